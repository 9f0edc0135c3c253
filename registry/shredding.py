"""Crypto-shredding: each aggregate's events are encrypted with a data key of its own.

Erasing destroys the key, which leaves the stored events as unreadable ciphertext; reading one
back then yields a *redacted* event that carries only its position. Events whose class says
``shredded = False`` (the erase record itself) are stored as plain JSON and stay readable.

Stored state layout of an encrypted event: ``0x01 | key id (16) | nonce (12) | tag (16) | data``;
the aggregate id and version are authenticated (AES-256-GCM associated data), so ciphertext
cannot be moved to another event.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import EventStore, Mapper, StoredEvent
from eventsourcing.utils import resolve_topic

from domain.common import REDACTED_AT
from projections.db import Database
from registry.persistence import KEYS_TABLE

ENVELOPE = b"\x01"
_HEADER = 1 + 16 + 12 + 16


_SCOPE: ContextVar[dict[object, Any] | None] = ContextVar("data_key_scope", default=None)
"""Keys already looked up by the read or save under way (see :meth:`DataKeys.scope`)."""


class DataKeys:
    """The per-aggregate data keys, kept in the event store's database.

    A key is looked up once per read of an aggregate's events (or per save), not once per
    event: within :meth:`scope` each lookup is remembered until the scope ends. Nothing is
    remembered beyond it, so a key an erase destroyed is never used by a later read.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Remember the keys looked up until the block ends (nested scopes share one)."""
        token = _SCOPE.set({}) if _SCOPE.get() is None else None
        try:
            yield
        finally:
            if token is not None:
                _SCOPE.reset(token)

    @contextmanager
    def unscoped(self) -> Iterator[None]:
        """Look every key up afresh in the block (a save's erase may have destroyed one)."""
        token = _SCOPE.set(None)
        try:
            yield
        finally:
            _SCOPE.reset(token)

    def current(self, originator_id: str) -> tuple[uuid.UUID, bytes]:
        """The aggregate's live key, made on first use."""
        scope = _SCOPE.get()
        if scope is not None and originator_id in scope:
            return scope[originator_id]  # type: ignore[no-any-return]
        found = self._current(originator_id)
        if scope is not None:
            scope[originator_id] = found
        return found

    def _current(self, originator_id: str) -> tuple[uuid.UUID, bytes]:
        with self.db.transaction(write=True) as cur:
            cur.execute(
                f"INSERT INTO {KEYS_TABLE} (key_id, originator_id, data_key) VALUES (%s,%s,%s)"
                " ON CONFLICT (originator_id) DO NOTHING",
                (uuid.uuid4().hex, originator_id, secrets.token_bytes(32)),
            )
            row = cur.one(
                f"SELECT key_id, data_key FROM {KEYS_TABLE} WHERE originator_id = %s",
                (originator_id,),
            )
        assert row is not None
        return uuid.UUID(row["key_id"]), bytes(row["data_key"])

    def get(self, key_id: uuid.UUID) -> bytes | None:
        """A key by id; ``None`` once it was destroyed."""
        scope = _SCOPE.get()
        if scope is not None and key_id in scope:
            return scope[key_id]  # type: ignore[no-any-return]
        with self.db.transaction(write=False) as cur:
            row = cur.one(
                f"SELECT data_key FROM {KEYS_TABLE} WHERE key_id = %s",
                (key_id.hex,),
            )
        key = None if row is None else bytes(row["data_key"])
        if scope is not None:
            scope[key_id] = key
        return key


def _aad(stored: StoredEvent) -> bytes:
    return f"{stored.originator_id}:{stored.originator_version}".encode()


class ShreddingEventStore(EventStore[uuid.UUID]):
    """Reads an aggregate's events with one data-key lookup per key, not one per event."""

    mapper: ShreddingMapper

    def get(
        self, originator_id: uuid.UUID, *, gt: int | None = None, lte: int | None = None,
        desc: bool = False, limit: int | None = None,
    ) -> Iterator[DomainEventProtocol[uuid.UUID]]:
        stored = self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc,
                                             limit=limit)
        with self.mapper.keys.scope():
            return iter([self.mapper.to_domain_event(s) for s in stored])


class ShreddingMapper(Mapper[uuid.UUID]):
    """A mapper that encrypts shreddable events with their aggregate's own data key."""

    keys: DataKeys

    def to_stored_event(self, domain_event: DomainEventProtocol[uuid.UUID]) -> StoredEvent:
        stored = super().to_stored_event(domain_event)
        if not getattr(type(domain_event), "shredded", False):
            return stored
        key_id, key = self.keys.current(str(stored.originator_id))
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(key).encrypt(nonce, bytes(stored.state), _aad(stored))
        data, tag = sealed[:-16], sealed[-16:]  # stored as tag, then data
        return replace(stored, state=ENVELOPE + key_id.bytes + nonce + tag + data)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[uuid.UUID]:
        state = bytes(stored_event.state)
        if not state.startswith(ENVELOPE):
            return super().to_domain_event(stored_event)
        key = self.keys.get(uuid.UUID(bytes=state[1:17]))
        if key is None:
            return self._redacted(stored_event)
        sealed = state[_HEADER:] + state[29:_HEADER]  # AESGCM takes the data, then the tag
        plaintext = AESGCM(key).decrypt(state[17:29], sealed, _aad(stored_event))
        return super().to_domain_event(replace(stored_event, state=plaintext))

    def _redacted(self, stored: StoredEvent) -> DomainEventProtocol[uuid.UUID]:
        event_class: Any = resolve_topic(stored.topic)
        redacted_class = event_class.redacted_class
        originator_id = stored.originator_id
        return redacted_class(  # type: ignore[no-any-return]
            originator_id=originator_id if isinstance(originator_id, uuid.UUID)
            else uuid.UUID(str(originator_id)),
            originator_version=stored.originator_version,
            timestamp=REDACTED_AT,
        )
