"""Deterministic schema identifiers: UUIDv5 and its ``sch_`` Crockford base32 form."""

from __future__ import annotations

import uuid
from functools import lru_cache

SCHEMA_NAMESPACE = uuid.UUID("6f1c3e52-2d4b-5c8e-9a07-3b1e8d4f2a60")
"""Fixed namespace of every schema UUID. Never change it: every stored id derives from it."""

SCHEMA_ID_PREFIX = "sch_"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_CROCKFORD)}
_DECODE.update({c.lower(): i for i, c in enumerate(_CROCKFORD)})
_DECODE.update({"O": 0, "o": 0, "I": 1, "i": 1, "L": 1, "l": 1})


def schema_uuid(tenant: str, connector_id: str, key: str) -> uuid.UUID:
    """The UUIDv5 of ``<tenant>/<connectorId>/<key>`` in :data:`SCHEMA_NAMESPACE`."""
    return uuid.uuid5(SCHEMA_NAMESPACE, f"{tenant}/{connector_id}/{key}")


def encode_prefixed(prefix: str, value: uuid.UUID) -> str:
    """``prefix`` + the 26-character Crockford base32 form of the UUID's 128 bits."""
    number = value.int
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[number & 31])
        number >>= 5
    return prefix + "".join(reversed(chars))


def decode_prefixed(prefix: str, text: str) -> uuid.UUID | None:
    """Parse either ``prefix`` + Crockford base32 or a UUID string; ``None`` when neither."""
    if text.startswith(prefix):
        return _decode_base32(text[len(prefix) :])
    if len(text) not in (32, 36):
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _decode_base32(body: str) -> uuid.UUID | None:
    if len(body) != 26:
        return None
    number = 0
    for char in body:
        digit = _DECODE.get(char)
        if digit is None:
            return None
        number = (number << 5) | digit
    # 26 characters hold 130 bits; a first character above 7 cannot be a 128-bit value.
    return None if number >= 1 << 128 else uuid.UUID(int=number)


def encode_schema_id(value: uuid.UUID) -> str:
    """``sch_`` + the 26-character Crockford base32 form of the UUID's 128 bits."""
    return encode_prefixed(SCHEMA_ID_PREFIX, value)


@lru_cache(maxsize=4096)  # collectors resolve the same ids over and over
def decode_schema_id(text: str) -> uuid.UUID | None:
    """Parse either a ``sch_`` id or a UUID string; ``None`` when it is neither."""
    return decode_prefixed(SCHEMA_ID_PREFIX, text)
