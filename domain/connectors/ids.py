"""Connector identifiers (``cnn_`` + ULID) and the key of the tenant-wide name index.

The registry generates a ULID for every new connector; a ULID is 128 bits, exactly a UUID, so
the aggregate id is that UUID and the public id its ``cnn_`` Crockford base32 form. Both forms
are accepted on input, as for schemas (``domain.ids``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from functools import lru_cache

from domain.ids import decode_prefixed, encode_prefixed

CONNECTOR_ID_PREFIX = "cnn_"
CONNECTOR_NAME_NAMESPACE = uuid.UUID("0b6f5d2e-8a41-5f3c-9d27-6e4a1c8b7f30")
"""Fixed namespace of the name index's ids. Never change it: every stored claim derives from it."""

_SPACES = re.compile(r"\s+")


def encode_connector_id(value: uuid.UUID) -> str:
    """``cnn_`` + the 26-character Crockford base32 form of the UUID's 128 bits."""
    return encode_prefixed(CONNECTOR_ID_PREFIX, value)


@lru_cache(maxsize=4096)
def decode_connector_id(text: str) -> uuid.UUID | None:
    """Parse either a ``cnn_`` id or a UUID string; ``None`` when it is neither."""
    return decode_prefixed(CONNECTOR_ID_PREFIX, text)


def canonical_connector_id(text: str) -> str:
    """The ``cnn_`` form of a connector id given in either form; any other text unchanged.

    A schema records its connector in this form, and its id is derived from it, so the id
    generators give the same schema id whichever form a collector holds.
    """
    uuid = decode_connector_id(text)
    return text if uuid is None else encode_connector_id(uuid)


def normalise_name(name: str) -> str:
    """The form two names are compared in: casefolded, trimmed, inner whitespace collapsed.

    So "Document  Storage" and " document storage" are the same name to the uniqueness rule,
    while the connector keeps the spelling it was given.
    """
    return _SPACES.sub(" ", name.strip()).casefold()


def connector_name_uuid(tenant: str, name: str) -> uuid.UUID:
    """The id of the name index entry for ``name`` in ``tenant``."""
    return uuid.uuid5(CONNECTOR_NAME_NAMESPACE, f"{tenant}/{normalise_name(name)}")


def owned_credential_uuid(connector: uuid.UUID) -> uuid.UUID:
    """The id of the credential holding a connector's inline credentials: a ULID with the
    connector's timestamp and the rest derived from the connector's id, so it never needs to
    be recorded to be found."""
    digest = hashlib.sha256(b"owned-credential:" + connector.bytes).digest()
    return uuid.UUID(bytes=connector.bytes[:6] + digest[:10])
