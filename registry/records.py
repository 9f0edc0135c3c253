"""Collected records: the data a schema describes, stored so that an erase leaves none of it.

Records are the payload of syncs, not registry state: the sync job's events say what was
collected (counts, drift, errors), the records table holds what. Each row is sealed with the
data key of its schema (AES-256-GCM, the schema id and key hash as associated data), and even
its primary key is stored only as an HMAC under that key. Erasing the schema destroys the key
and deletes the rows in the erase's own transaction (``registry.persistence``), so nothing
readable of a record remains, live or dead.

A write checks the schema's key in its transaction (PostgreSQL: ``FOR SHARE``, so it orders
itself against an erase) and writes nothing when the key is gone: a sync racing an erase
cannot leave records behind.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from uuid import UUID

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.record_query import matches
from projections.db import Cursor, Database
from registry.persistence import KEYS_TABLE, RECORDS_TABLE

SCAN_CHUNK = 500
_ENCODE = msgspec.json.Encoder(order="sorted").encode
_DECODE = msgspec.json.Decoder().decode
UPSERT = (f"INSERT INTO {RECORDS_TABLE} (schema_uuid, key_hash, job_uuid, sealed)"
          " VALUES (%s,%s,%s,%s) ON CONFLICT (schema_uuid, key_hash) DO UPDATE SET"
          " job_uuid = excluded.job_uuid, sealed = excluded.sealed")


class SchemaKeyGoneError(Exception):
    """The schema's data key is destroyed (it was erased): no record may be written."""


@dataclass(frozen=True)
class Page:
    """One page of a schema's records and the cursor of the next, if any."""

    records: list[dict[str, Any]]
    next_cursor: str | None


def primary_key(record: Mapping[str, Any], fields: Sequence[str]) -> str:
    """The text a record's primary key is hashed from: the primary fields' values as JSON."""
    if len(fields) == 1:
        return _ENCODE(record.get(fields[0])).decode()
    return _ENCODE([record.get(name) for name in fields]).decode()


def canonical_key(text: str) -> str | None:
    """A primary key text as :func:`primary_key` writes it (``[1, "x"]`` is ``[1,"x"]``);
    ``None`` when it is not JSON, so no record can have it."""
    try:
        return _ENCODE(_DECODE(text)).decode()
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


class RecordStore:
    """Writes and reads the records of schemas."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert(self, schema: UUID, job: UUID, rows: Sequence[tuple[str, Mapping[str, Any]]]
               ) -> int:
        """Store ``(primary key text, record)`` pairs; the last write of a key wins. One
        transaction; raises :class:`SchemaKeyGoneError` (writing nothing) after an erase."""
        if not rows:
            return 0
        # The records' commit does not wait for the disk (``Database.bulk_transaction``): a
        # crash can lose the last batches, never tear one, and the sync's next progress event
        # (an ordinary commit) makes them durable with it.
        with self.db.bulk_transaction() as cur:
            key = self._key(cur, schema, lock=True)
            if key is None:
                raise SchemaKeyGoneError(str(schema))
            sealed = _Sealer(schema, key).seal(rows)
            schema_text, job_text = str(schema), str(job)
            cur.executemany(UPSERT, [(schema_text, key_hash, job_text, value)
                                     for key_hash, value in sealed])
        return len(sealed)

    def forget_unseen(self, schema: UUID, job: UUID) -> int:
        """After a full sync: delete the records that sync did not see (gone at the source)."""
        with self.db.transaction(write=True) as cur:
            return cur.execute(
                f"DELETE FROM {RECORDS_TABLE} WHERE schema_uuid = %s AND job_uuid <> %s",
                (str(schema), str(job)))

    def get(self, schema: UUID, key_text: str) -> dict[str, Any] | None:
        """One record by its primary key text, or ``None``."""
        with self.db.read() as cur:
            key = self._key(cur, schema)
            if key is None:
                return None
            sealer = _Sealer(schema, key)
            row = cur.one(f"SELECT key_hash, sealed FROM {RECORDS_TABLE}"
                          " WHERE schema_uuid = %s AND key_hash = %s",
                          (str(schema), sealer.hash(key_text)))
            return None if row is None else sealer.open(row["key_hash"], row["sealed"])

    def page(self, schema: UUID, *, limit: int, cursor: str | None = None,
             where: Mapping[str, Any] | None = None, scan: int | None = None) -> Page:
        """Records in a stable order (by key hash), ``limit`` at a time, only those whose
        fields equal ``where``'s values (strictly: :func:`domain.record_query.matches`).
        The cursor is the last key hash looked at. With ``scan``, at most that many rows
        are opened: a filter that matches little ends the page early, with a cursor."""
        found: list[dict[str, Any]] = []
        last = cursor or ""
        with self.db.read() as cur:
            key = self._key(cur, schema)
            if key is None:
                return Page([], None)
            sealer = _Sealer(schema, key)
            for opened, (key_hash, record) in enumerate(self._scan(cur, sealer, schema, last)):
                if scan is not None and opened == scan:
                    return Page(found, last)
                if where and not matches(record, where):
                    last = key_hash
                    continue
                if len(found) == limit:
                    return Page(found, last)
                found.append(record)
                last = key_hash
        return Page(found, None)

    def count(self, schema: UUID) -> int:
        with self.db.read() as cur:
            row = cur.one(f"SELECT COUNT(*) AS n FROM {RECORDS_TABLE} WHERE schema_uuid = %s",
                          (str(schema),))
        return int(row["n"]) if row else 0

    def _scan(self, cur: Cursor, sealer: _Sealer, schema: UUID, after: str
              ) -> Iterator[tuple[str, dict[str, Any]]]:
        while True:
            rows = cur.all(f"SELECT key_hash, sealed FROM {RECORDS_TABLE}"
                           " WHERE schema_uuid = %s AND key_hash > %s"
                           f" ORDER BY key_hash LIMIT {SCAN_CHUNK}", (str(schema), after))
            for row in rows:
                yield row["key_hash"], sealer.open(row["key_hash"], row["sealed"])
            if len(rows) < SCAN_CHUNK:
                return
            after = rows[-1]["key_hash"]

    def _key(self, cur: Cursor, schema: UUID, *, lock: bool = False) -> bytes | None:
        share = " FOR SHARE" if lock and cur.dialect != "sqlite" else ""
        row = cur.one(f"SELECT data_key FROM {KEYS_TABLE} WHERE originator_id = %s{share}",
                      (str(schema),))
        return None if row is None else bytes(row["data_key"])


class KeyedHash:
    """HMAC-SHA256 (RFC 2104) of texts under one key, as hex: ``hmac.new(key, text,
    "sha256").hexdigest()``, computed from copies of the two keyed SHA-256 states (a record
    is one hash; the :mod:`hmac` wrapper's copies cost three times as much)."""

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def __call__(self, text: str) -> str:
        inner = self._inner.copy()
        inner.update(text.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


_SHA256_BLOCK = 64


class _Sealer:
    """Seals and opens one schema's records with its data key."""

    def __init__(self, schema: UUID, key: bytes) -> None:
        self.schema = str(schema).encode()
        self.aead = AESGCM(key)
        self.hash = KeyedHash(key)

    def seal(self, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[tuple[str, bytes]]:
        """``(key hash, sealed record)`` of ``(primary key text, record)`` pairs, in key-hash
        order (in key order neighbouring rows share index pages; the sort is stable, so of
        two records of one key the later still comes later, and wins). The hash is
        :meth:`hash`'s; each nonce 12 random bytes, one read of the OS's random a batch."""
        nonces = os.urandom(12 * len(rows))
        encrypt, keyed, schema = self.aead.encrypt, self.hash, self.schema
        sealed = []
        for start, (text, record) in zip(range(0, len(nonces), 12), rows, strict=True):
            key_hash = keyed(text)
            nonce = nonces[start:start + 12]
            sealed.append((key_hash, nonce + encrypt(nonce, _ENCODE(record),
                                                     schema + key_hash.encode())))
        sealed.sort(key=itemgetter(0))
        return sealed

    def open(self, key_hash: str, sealed: bytes) -> dict[str, Any]:
        sealed = bytes(sealed)
        plain = self.aead.decrypt(sealed[:12], sealed[12:], self.schema + key_hash.encode())
        record: dict[str, Any] = _DECODE(plain)
        return record
