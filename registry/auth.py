"""Bearer tokens: who is calling and for which tenant.

Tokens are JWTs with the claims ``sub``, ``tenant``, ``email`` (optional), ``roles`` (a list)
and ``exp``, all at the top level. A ``TokenVerifier`` checks them against one key source:

- a shared secret (HS256), the default, which ``issue_token`` signs with;
- a PEM public key file: RSA (RS256) or EC P-256 (ES256);
- a JWKS file of RSA / EC P-256 public keys chosen by the token's ``kid``. The file is read
  again whenever it changes, so keys rotate without a restart.

The accepted algorithm always follows from the key, never from the token. Error messages say
what is wrong with a token without repeating any part of it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from domain.common import Actor
from domain.errors import RegistryError

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30
DEFAULT_TTL_SECONDS = 3600
MIN_SECRET_BYTES = 32
MIN_RSA_BITS = 2048
REQUIRED_CLAIMS = ("exp", "sub", "tenant")
ROLES = ("collector", "auditor", "editor", "admin")
"""The roles a bearer token may carry in its `roles` claim; they add up."""

log = logging.getLogger("registry.auth")

KeyMaterial: TypeAlias = str | rsa.RSAPublicKey | ec.EllipticCurvePublicKey


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


@dataclass(frozen=True)
class VerificationKey:
    """A key and the one algorithm it verifies."""

    key: KeyMaterial = field(repr=False)
    algorithm: str


class KeySource(Protocol):
    """Where a verifier gets the key for a token."""

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The key for a token with this (unverified) header, else AuthenticationError."""
        ...

    def keys(self) -> object:
        """The keys in use: a different object whenever they change (rotation)."""
        ...


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JwtSettings:
    """How bearer tokens are verified; exactly one key source is used (see ``key_source``)."""

    secret: str | None = field(default=None, repr=False)
    public_key_file: Path | None = None
    jwks_file: Path | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = LEEWAY_SECONDS

    def __post_init__(self) -> None:
        if self.leeway_seconds < 0:
            raise ValueError("the JWT leeway must be >= 0 seconds")

    @classmethod
    def from_env(cls, env: Mapping[str, str], default_secret: str | None) -> JwtSettings:
        """Read ``REGISTRY_JWT_*``: a JWKS file wins over a public key file over a secret.

        ``default_secret`` stands in for an unset ``REGISTRY_JWT_SECRET``. Raises ValueError
        when no key is configured, a key file is unreadable or invalid, or the leeway is bad.
        """
        jwks = _path(env, "REGISTRY_JWT_JWKS_FILE")
        pem = _path(env, "REGISTRY_JWT_PUBLIC_KEY_FILE")
        _warn_ignored(env, jwks, pem)
        secret = None if jwks or pem else env.get("REGISTRY_JWT_SECRET") or default_secret
        settings = cls(
            secret=secret,
            public_key_file=None if jwks else pem,
            jwks_file=jwks,
            issuer=env.get("REGISTRY_JWT_ISSUER") or None,
            audience=env.get("REGISTRY_JWT_AUDIENCE") or None,
            leeway_seconds=_leeway(env.get("REGISTRY_JWT_LEEWAY")),
        )
        settings.key_source()  # fail now on a bad key, not on the first request
        return settings

    def key_source(self) -> KeySource:
        """The configured key source (JWKS file, else public key file, else secret)."""
        if self.jwks_file is not None:
            return JwksFile(self.jwks_file)
        if self.public_key_file is not None:
            return PublicKeyFile(self.public_key_file)
        if self.secret:
            return SharedSecret(self.secret)
        raise ValueError(
            "no JWT verification key: set REGISTRY_JWT_JWKS_FILE, REGISTRY_JWT_PUBLIC_KEY_FILE "
            "or REGISTRY_JWT_SECRET"
        )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _warn_ignored(env: Mapping[str, str], jwks: Path | None, pem: Path | None) -> None:
    winner = "REGISTRY_JWT_JWKS_FILE" if jwks else "REGISTRY_JWT_PUBLIC_KEY_FILE" if pem else None
    losers = ["REGISTRY_JWT_PUBLIC_KEY_FILE"] if jwks and pem else []
    if winner and env.get("REGISTRY_JWT_SECRET"):
        losers.append("REGISTRY_JWT_SECRET")
    for name in losers:
        log.warning("%s is ignored: %s takes precedence", name, winner)


def _leeway(value: str | None) -> int:
    if value is None or not value.strip():
        return LEEWAY_SECONDS
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ValueError(f"REGISTRY_JWT_LEEWAY must be a whole number of seconds >= 0, "
                         f"not {value!r}")
    return seconds


# --- key sources ---------------------------------------------------------------------------


class SharedSecret:
    """An HS256 shared secret (at least 32 bytes, RFC 7518)."""

    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError("the JWT secret must be at least 32 bytes long (RFC 7518)")
        self._key = VerificationKey(secret, ALGORITHM)

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The secret, whatever the header says."""
        return self._key

    def keys(self) -> object:
        """The one key; it never changes."""
        return self._key


class PublicKeyFile:
    """A PEM public key read once: RSA of 2048+ bits (RS256) or EC P-256 (ES256)."""

    def __init__(self, path: Path) -> None:
        self._key = _pem_key(path)

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The key, whatever the header says (``kid`` is ignored)."""
        return self._key

    def keys(self) -> object:
        """The one key; it never changes."""
        return self._key


class JwksFile:
    """A JWKS file of public keys, selected by ``kid`` and re-read when the file changes.

    The file is checked (``stat``) on every lookup and parsed again when its modification
    time, size or inode changed. If the new content is invalid, the previous keys stay in use
    and the problem is logged; it is parsed again on the next change.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._signature = _file_signature(path)
        self._keys = _load_jwks(path)

    def keys(self) -> object:
        """The current key set (the file is checked); a new object after each reload."""
        return self._current()

    def key_ids(self) -> list[str | None]:
        """The ``kid`` of every key currently in use."""
        return list(self._current())

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The key named by the header's ``kid`` (optional when the set has one key)."""
        keys, kid = self._current(), header.get("kid")
        if kid is None:
            if len(keys) == 1:
                return next(iter(keys.values()))
            raise AuthenticationError(
                "the bearer token has no 'kid' header, which the key set needs to pick a key"
            )
        if not isinstance(kid, str) or kid not in keys:
            raise AuthenticationError("the bearer token's signing key ('kid') is unknown")
        return keys[kid]

    def _current(self) -> dict[str | None, VerificationKey]:
        signature = _file_signature(self._path)
        if signature != self._signature:
            self._reload(signature)
        return self._keys

    def _reload(self, signature: tuple[int, ...] | None) -> None:
        with self._lock:
            if signature == self._signature:
                return
            self._signature = signature
            try:
                self._keys = _load_jwks(self._path)
            except ValueError as error:
                log.error("JWKS not reloaded, the previous keys stay in use: %s", error)
                return
            log.info("JWKS reloaded from %s: key ids %s", self._path, sorted(map(str, self._keys)))


def _file_signature(path: Path) -> tuple[int, ...] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_dev)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the JWT {what} file {path}: {error.strerror}") from None


def _pem_key(path: Path) -> VerificationKey:
    data = _read(path, "public key")
    try:
        public_key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(
            f"{path} is not a PEM public key ('-----BEGIN PUBLIC KEY-----')"
        ) from None
    return _verification_key(public_key, str(path))


def _verification_key(public_key: object, where: str) -> VerificationKey:
    """The key with its algorithm: RS256 for RSA (2048+ bits), ES256 for EC P-256."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            raise ValueError(f"{where}: the RSA key has {public_key.key_size} bits, "
                             f"at least {MIN_RSA_BITS} are needed")
        return VerificationKey(public_key, "RS256")
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    ):
        return VerificationKey(public_key, "ES256")
    raise ValueError(f"{where}: the key must be an RSA or EC P-256 public key")


# --- JWKS parsing --------------------------------------------------------------------------

_ALGORITHM_BY_KTY = {"RSA": "RS256", "EC": "ES256"}


def _load_jwks(path: Path) -> dict[str | None, VerificationKey]:
    try:
        document = json.loads(_read(path, "JWKS"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    jwks = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(jwks, list):
        raise ValueError(f"{path} is not a JWKS: expected an object with a 'keys' list")
    signing = [jwk for jwk in jwks if not (isinstance(jwk, dict) and jwk.get("use") == "enc")]
    if not signing:
        raise ValueError(f"{path}: the JWKS has no signing keys")
    return _index_keys(signing, path)


def _index_keys(jwks: list[Any], path: Path) -> dict[str | None, VerificationKey]:
    keys: dict[str | None, VerificationKey] = {}
    for position, jwk in enumerate(jwks):
        where = f"{path}: key #{position}"
        if not isinstance(jwk, dict):
            raise ValueError(f"{where} is not a JSON object")
        kid = jwk.get("kid")
        if kid is None and len(jwks) > 1:
            raise ValueError(f"{where} has no 'kid': a JWKS with several keys needs one on each")
        if kid is not None and (not isinstance(kid, str) or not kid):
            raise ValueError(f"{where}: 'kid' must be a non-empty string")
        if kid in keys:
            raise ValueError(f"{where}: the 'kid' {kid!r} appears twice")
        keys[kid] = _jwk_key(jwk, f"{path}: key {kid!r}" if kid else where)
    return keys


def _jwk_key(jwk: dict[str, Any], where: str) -> VerificationKey:
    kty, declared = jwk.get("kty"), jwk.get("alg")
    algorithm = _ALGORITHM_BY_KTY.get(kty) if isinstance(kty, str) else None
    if algorithm is None:
        raise ValueError(f"{where}: unsupported key type 'kty' (use RSA or EC P-256)")
    if "d" in jwk:
        raise ValueError(f"{where} holds a private key: put only public keys in the JWKS")
    try:
        public_key = jwt.PyJWK(jwk, algorithm=algorithm).key
    except jwt.PyJWTError:
        raise ValueError(f"{where} is not a valid {kty} public key JWK") from None
    key = _verification_key(public_key, where)
    if declared is not None and declared != key.algorithm:
        raise ValueError(f"{where}: 'alg' must be {key.algorithm} for this key")
    return key


# --- verification --------------------------------------------------------------------------


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
        """A verifier for the settings' key source, issuer, audience and leeway."""
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
        key = self._keys.key_for(_unverified_header(token))
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
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
