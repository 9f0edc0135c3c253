"""Connector identifiers (``cnn_`` + ULID) and the key of the tenant-wide name index.

The registry generates a ULID for every new connector; a ULID is 128 bits, exactly a UUID, so
the aggregate id is that UUID and the public id its ``cnn_`` Crockford base32 form. Both forms
are accepted on input, as for schemas (``domain.ids``).
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache

CONNECTOR_ID_PREFIX = "cnn_"
CONNECTOR_NAME_NAMESPACE = uuid.UUID("0b6f5d2e-8a41-5f3c-9d27-6e4a1c8b7f30")
"""Fixed namespace of the name index's ids. Never change it: every stored claim derives from it."""

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_CROCKFORD)}
_DECODE.update({c.lower(): i for i, c in enumerate(_CROCKFORD)})
_DECODE.update({"O": 0, "o": 0, "I": 1, "i": 1, "L": 1, "l": 1})
_SPACES = re.compile(r"\s+")


def encode_connector_id(value: uuid.UUID) -> str:
    """``cnn_`` + the 26-character Crockford base32 form of the UUID's 128 bits."""
    number = value.int
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[number & 31])
        number >>= 5
    return CONNECTOR_ID_PREFIX + "".join(reversed(chars))


@lru_cache(maxsize=4096)
def decode_connector_id(text: str) -> uuid.UUID | None:
    """Parse either a ``cnn_`` id or a UUID string; ``None`` when it is neither."""
    if text.startswith(CONNECTOR_ID_PREFIX):
        return _decode_base32(text[len(CONNECTOR_ID_PREFIX) :])
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
    # 26 characters hold 130 bits; a first character above 7 cannot be a 128-bit ULID.
    return None if number >= 1 << 128 else uuid.UUID(int=number)


def normalise_name(name: str) -> str:
    """The form two names are compared in: casefolded, trimmed, inner whitespace collapsed.

    So "Document  Storage" and " document storage" are the same name to the uniqueness rule,
    while the connector keeps the spelling it was given.
    """
    return _SPACES.sub(" ", name.strip()).casefold()


def connector_name_uuid(tenant: str, name: str) -> uuid.UUID:
    """The id of the name index entry for ``name`` in ``tenant``."""
    return uuid.uuid5(CONNECTOR_NAME_NAMESPACE, f"{tenant}/{normalise_name(name)}")
