"""Sync job identifiers: ``job_`` + ULID (the UUID form accepted too), and the id of a
connector's sync queue, derived from the connector's."""

from __future__ import annotations

import uuid
from functools import lru_cache

from domain.ids import decode_prefixed, encode_prefixed

JOB_ID_PREFIX = "job_"
SYNC_QUEUE_NAMESPACE = uuid.UUID("5d0b7a43-2c1e-5f68-8b94-0e7c3a1d6f25")
"""Fixed namespace of the queues' ids. Never change it: every stored queue derives from it."""


def encode_job_id(value: uuid.UUID) -> str:
    """``job_`` + the 26-character Crockford base32 form of the UUID's 128 bits."""
    return encode_prefixed(JOB_ID_PREFIX, value)


@lru_cache(maxsize=4096)
def decode_job_id(text: str) -> uuid.UUID | None:
    """Parse either a ``job_`` id or a UUID string; ``None`` when it is neither."""
    return decode_prefixed(JOB_ID_PREFIX, text)


def sync_queue_uuid(connector: uuid.UUID) -> uuid.UUID:
    """The id of a connector's sync queue."""
    return uuid.uuid5(SYNC_QUEUE_NAMESPACE, str(connector))
