"""API token strings: ``csr_<token id>_<secret>``; only SHA-256 of the secret is kept.

The secret has 256 random bits, so a fast hash is enough: nothing can be guessed from it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

PREFIX = "csr_"


@dataclass(frozen=True)
class TokenSecret:
    """A freshly generated token: its id, and the full string shown to the user once."""

    token_id: uuid.UUID
    text: str
    secret_hash: str


def generate() -> TokenSecret:
    """A new random token."""
    token_id = uuid.uuid4()
    secret = secrets.token_urlsafe(32)
    return TokenSecret(token_id, f"{PREFIX}{token_id.hex}_{secret}", hash_secret(secret))


def hash_secret(secret: str) -> str:
    """The stored form of a token secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(text: str) -> tuple[uuid.UUID, str] | None:
    """The id and secret of a token string, or ``None`` when it is not one of ours."""
    if not text.startswith(PREFIX) or len(text) > 200:
        return None
    token_hex, _, secret = text[len(PREFIX) :].partition("_")
    if len(token_hex) != 32 or not secret:
        return None
    try:
        return uuid.UUID(hex=token_hex), secret
    except ValueError:
        return None


def matches(secret: str, secret_hash: str) -> bool:
    """Constant-time check of a presented secret against the stored hash."""
    return hmac.compare_digest(hash_secret(secret), secret_hash)
