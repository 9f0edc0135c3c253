"""Bearer tokens: who is calling and for which tenant.

Tokens are JWTs signed with HS256; claims ``sub``, ``tenant``, ``email`` (optional), ``roles``
(a list) and ``exp``, all at the top level. Verification is one class so that other key sources
(public keys, JWKS) can take its place without touching the API.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import jwt

from domain.errors import RegistryError
from domain.schema import Actor

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30
DEFAULT_TTL_SECONDS = 3600


class AuthenticationError(RegistryError):
    """The credentials are missing, malformed, forged or expired."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str
    tenant: str
    email: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    app_id: str | None = None

    @property
    def actor(self) -> Actor:
        """The caller as events record it."""
        return Actor(self.subject, self.tenant, self.email, self.app_id)


class TokenVerifier:
    """Verifies HS256 bearer tokens with a shared secret."""

    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("the JWT secret must be at least 32 bytes long (RFC 7518)")
        self._secret = secret

    def verify(self, token: str) -> Principal:
        """The principal of a valid token, else AuthenticationError."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "tenant"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the bearer token has expired") from None
        except jwt.PyJWTError as error:
            raise AuthenticationError(f"invalid bearer token: {error}") from None
        return _principal(claims)


def _principal(claims: dict[str, object]) -> Principal:
    subject, tenant, email = claims.get("sub"), claims.get("tenant"), claims.get("email")
    roles = claims.get("roles", [])
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("the token's 'sub' claim must be a non-empty string")
    if not isinstance(tenant, str) or not tenant:
        raise AuthenticationError("the token's 'tenant' claim must be a non-empty string")
    if email is not None and not isinstance(email, str):
        raise AuthenticationError("the token's 'email' claim must be a string")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthenticationError("the token's 'roles' claim must be a list of strings")
    return Principal(subject, tenant, email, tuple(roles))


def issue_token(
    secret: str,
    *,
    tenant: str,
    subject: str,
    email: str | None = None,
    roles: Sequence[str] = (),
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> str:
    """A signed token for the given identity."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": subject,
        "tenant": tenant,
        "roles": list(roles),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
