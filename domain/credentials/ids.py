"""Credential identifiers: ``crd_`` + ULID, the UUID form accepted too (as for connectors)."""

from __future__ import annotations

import uuid
from functools import lru_cache

from domain.ids import decode_prefixed, encode_prefixed

CREDENTIAL_ID_PREFIX = "crd_"


def encode_credential_id(value: uuid.UUID) -> str:
    """``crd_`` + the 26-character Crockford base32 form of the UUID's 128 bits."""
    return encode_prefixed(CREDENTIAL_ID_PREFIX, value)


@lru_cache(maxsize=4096)
def decode_credential_id(text: str) -> uuid.UUID | None:
    """Parse either a ``crd_`` id or a UUID string; ``None`` when it is neither."""
    return decode_prefixed(CREDENTIAL_ID_PREFIX, text)
