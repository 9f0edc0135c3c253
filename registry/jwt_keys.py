"""Where bearer-token verification keys come from: a shared secret, a PEM file or a JWKS file.

Kept apart from verification (``registry.auth``) so that reading and validating key material
(PEM and JWKS parsing, RSA size and curve checks, JWKS reloads) can be read and tested on its
own. Every key carries the one algorithm it verifies: the algorithm follows from the key,
never from the token. Nothing here knows about requests or principals; a key that cannot be
found for a token raises ``UnknownKeyError``, which the verifier turns into a 401.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
MIN_RSA_BITS = 2048

# The same logger as before key sources had a module of their own, so log filters still match.
log = logging.getLogger("registry.auth")

KeyMaterial: TypeAlias = str | rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class UnknownKeyError(LookupError):
    """No key of the source fits the token's header (its message may be shown to the caller)."""


@dataclass(frozen=True)
class VerificationKey:
    """A key and the one algorithm it verifies."""

    key: KeyMaterial = field(repr=False)
    algorithm: str


class KeySource(Protocol):
    """Where a verifier gets the key for a token."""

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The key for a token with this (unverified) header, else UnknownKeyError."""
        ...

    def keys(self) -> object:
        """The keys in use: a different object whenever they change (rotation)."""
        ...


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
            raise UnknownKeyError(
                "the bearer token has no 'kid' header, which the key set needs to pick a key"
            )
        if not isinstance(kid, str) or kid not in keys:
            raise UnknownKeyError("the bearer token's signing key ('kid') is unknown")
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
