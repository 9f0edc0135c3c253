"""Bearer tokens: who is calling and for which tenant.

Tokens are JWTs with the claims ``sub``, ``tenant``, ``email`` (optional), ``roles`` (a list),
``groups`` (optional list: the caller's groups, for group-scoped connectors) and ``exp``, all at
the top level. A ``TokenVerifier`` checks them against one key source of
``registry.jwt_keys``: a shared secret (HS256), the default, which ``issue_token`` signs with;
a PEM public key file (RS256 / ES256); or a JWKS file whose keys are chosen by ``kid`` and
re-read when the file changes.

The accepted algorithm always follows from the key, never from the token. Error messages say
what is wrong with a token without repeating any part of it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

from domain.common import Actor
from domain.errors import RegistryError
from registry.jwt_keys import ALGORITHM, KeySource, SharedSecret, UnknownKeyError
from registry.settings import LEEWAY_SECONDS, JwtSettings

DEFAULT_TTL_SECONDS = 3600
REQUIRED_CLAIMS = ("exp", "sub", "tenant")
ROLES = ("collector", "auditor", "editor", "admin")
"""Every role a bearer token may carry; they add up (see docs/security.md)."""


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
    groups: tuple[str, ...] = field(default_factory=tuple)

    @property
    def actor(self) -> Actor:
        """The caller as events record it."""
        return Actor(self.subject, self.tenant, self.email, self.app_id)


class TokenVerifier:
    """Verifies bearer tokens against one key source, optional issuer and audience."""

    def __init__(
        self,
        secret: str | None = None,
        *,
        keys: KeySource | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway_seconds: int = LEEWAY_SECONDS,
    ) -> None:
        if (secret is None) == (keys is None):
            raise ValueError("give a TokenVerifier either a secret or a key source")
        self._keys: KeySource = keys if keys is not None else SharedSecret(secret or "")
        self._issuer, self._audience, self._leeway = issuer, audience, leeway_seconds
        self._required = [*REQUIRED_CLAIMS, *(["iss"] if issuer else []),
                          *(["aud"] if audience else [])]

    @classmethod
    def from_settings(cls, settings: JwtSettings) -> TokenVerifier:
        """A verifier for ``Settings.jwt``: its key source, issuer, audience and leeway.

        Reads the key (secret file, PEM or JWKS) now, so a bad configuration fails at start-up
        rather than on the first request.
        """
        return cls(
            keys=settings.key_source(),
            issuer=settings.issuer,
            audience=settings.audience,
            leeway_seconds=settings.leeway_seconds,
        )

    def keys(self) -> object:
        """The keys in use: a different object whenever they change, so that whatever was
        verified with the old ones can be forgotten."""
        return self._keys.keys()

    def verify(self, token: str) -> Principal:
        """The principal of a valid token, else AuthenticationError."""
        try:
            key = self._keys.key_for(_unverified_header(token))
        except UnknownKeyError as error:
            raise AuthenticationError(str(error)) from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                # 'sub' is checked by _principal; 'jti' is not used.
                options={"require": self._required, "verify_sub": False, "verify_jti": False},
            )
        except jwt.PyJWTError as error:
            raise AuthenticationError(self._reason(error, key.algorithm)) from None
        return _principal(claims)

    def _reason(self, error: jwt.PyJWTError, algorithm: str) -> str:
        """What is wrong, in our words: PyJWT's messages may quote parts of the token."""
        if isinstance(error, jwt.MissingRequiredClaimError):
            return f"the bearer token has no '{error.claim}' claim"
        if isinstance(error, jwt.InvalidAlgorithmError):
            return f"the bearer token's algorithm is not allowed: this registry expects {algorithm}"
        if isinstance(error, jwt.InvalidAudienceError) and self._audience is None:
            return "the bearer token has an 'aud' claim, but no audience is configured"
        for kind, reason in _REASONS:
            if isinstance(error, kind):
                return reason
        return "invalid bearer token"


_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the bearer token has expired"),
    (jwt.ImmatureSignatureError, "the bearer token is not valid yet ('nbf' or 'iat')"),
    (jwt.InvalidSignatureError, "the bearer token's signature is invalid"),
    (jwt.InvalidAudienceError, "the bearer token's audience ('aud') is not this registry"),
    (jwt.InvalidIssuerError, "the bearer token's issuer ('iss') is not the configured one"),
    (jwt.InvalidIssuedAtError, "the bearer token's 'iat' claim must be a number"),
    (jwt.DecodeError, "the bearer token is malformed (or its 'exp'/'nbf' is not a number)"),
    (jwt.InvalidKeyError, "the bearer token cannot be checked with the configured key"),
)


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthenticationError("the bearer token is malformed: not a signed JWT") from None


def _principal(claims: dict[str, object]) -> Principal:
    subject, tenant, email = claims.get("sub"), claims.get("tenant"), claims.get("email")
    roles, groups = claims.get("roles", []), claims.get("groups", [])
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("the token's 'sub' claim must be a non-empty string")
    if not isinstance(tenant, str) or not tenant:
        raise AuthenticationError("the token's 'tenant' claim must be a non-empty string")
    if email is not None and not isinstance(email, str):
        raise AuthenticationError("the token's 'email' claim must be a string")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthenticationError("the token's 'roles' claim must be a list of strings")
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise AuthenticationError("the token's 'groups' claim must be a list of strings")
    return Principal(subject, tenant, email, tuple(roles), groups=tuple(groups))


def issue_token(
    secret: str,
    *,
    tenant: str,
    subject: str,
    email: str | None = None,
    roles: Sequence[str] = (),
    groups: Sequence[str] = (),
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> str:
    """A token signed with the HS256 shared secret for the given identity."""
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
    if groups:
        claims["groups"] = list(groups)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
