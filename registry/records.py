"""Collected records: the data a schema describes, stored so that an erase leaves none of it.

Records are the payload of syncs, not registry state: the sync job's events say what was
collected (counts, drift, errors), the records table holds what. Each row is sealed with the
data key of its schema (AES-256-GCM, the schema id and key hash as associated data), and even
its primary key is stored only as an HMAC under that key. Erasing the schema destroys the key
and deletes the rows in the erase's own transaction (``registry.persistence``), so nothing
readable of a record remains, live or dead.

A write checks, in its transaction, that the schema's key is still the one the rows were
sealed with (PostgreSQL: ``FOR SHARE``, so it orders itself against an erase) and writes
nothing when it is gone: a sync racing an erase cannot leave records behind. A sync's writes
run in a thread of their own (:class:`RecordWriter`), each one statement over many rows in
the order yielded, so the run seals the next records while the database stores the last.
The ids of a row are bytes (the schema's UUID, the key hash, the job's UUID): the smaller
its index entries, the fewer pages a write touches.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate
from types import TracebackType
from typing import Any
from uuid import UUID

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.record_query import matches
from projections.db import Cursor, Database
from registry.persistence import KEYS_TABLE, RECORDS_TABLE

log = logging.getLogger("registry.records")
SCAN_CHUNK = 500
REMEMBERED_KEYS = 1_000_000
"""A sync's writer counts the distinct keys it stores up to this many in all (one 64-bit
hash each: about 70 MB at most), so that a full sync that stored every row of a schema skips
the scan for unseen ones; a larger sync scans."""
HASH_BYTES = 32
"""The length of a key hash (HMAC-SHA256) as stored."""
_ENCODE = msgspec.json.Encoder(order="sorted").encode
_DECODE = msgspec.json.Decoder().decode
_INSERT = f"INSERT INTO {RECORDS_TABLE} (schema_uuid, key_hash, job_uuid, sealed)"
_ON_CONFLICT = (" ON CONFLICT (schema_uuid, key_hash) DO UPDATE SET"
                " job_uuid = excluded.job_uuid, sealed = excluded.sealed")
STORE = {
    # One statement per write: the key hashes as one blob (32 bytes each) and the sealed
    # values as another, cut by a JSON array of [offset, length] (row i is its index i),
    # upserted in the order yielded (so of two rows of one key the later wins, and a
    # re-sync that yields in the same order as the last rewrites neighbouring rows: the
    # table's pages it dirties are a write's share of them, not all of them).
    "sqlite": (f"{_INSERT} SELECT %s, substr(%s, key * {HASH_BYTES} + 1, {HASH_BYTES}), %s,"
               " substr(%s, value->>0, value->>1) FROM json_each(%s) WHERE true"
               f" ORDER BY key{_ON_CONFLICT}"),
    # PostgreSQL may not update one row twice in a statement: the last row of a key only.
    "postgres": (f"{_INSERT} SELECT DISTINCT ON (k) %s::bytea, k, %s::bytea, s"
                 " FROM unnest(%s::bytea[], %s::bytea[]) WITH ORDINALITY AS t(k, s, n)"
                 f" ORDER BY k, n DESC{_ON_CONFLICT}"),
}
"""The statement of :meth:`RecordStore.store`, by dialect."""


LEGACY_TABLE = "registry_records"
"""The records table of the first layout, its ids as text (the schema's and the job's UUID,
the key hash as hex): :func:`upgrade_legacy_records` moves its rows into
:data:`~registry.persistence.RECORDS_TABLE` and drops it."""
_UPGRADE_LOCK = 0x5245434F524453  # any constant: one process at a time upgrades
_UPGRADE_CHUNK = 5000
_KEEP = " ON CONFLICT (schema_uuid, key_hash) DO NOTHING"
_UPGRADE = {
    "postgres": (f"{_INSERT} SELECT uuid_send(schema_uuid::uuid), decode(key_hash, 'hex'),"
                 f" uuid_send(job_uuid::uuid), sealed FROM {LEGACY_TABLE}{_KEEP}"),
    "sqlite": f"{_INSERT} VALUES (%s, %s, %s, %s){_KEEP}",
}
_LEGACY_EXISTS = {
    "postgres": "SELECT 1 AS found WHERE to_regclass(%s) IS NOT NULL",
    "sqlite": "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = %s",
}


def upgrade_legacy_records(db: Database) -> int:
    """Move the rows of a records table of the first layout (:data:`LEGACY_TABLE`) into the
    records table, in one transaction, and drop it; answers how many rows it took (0 when
    there is no such table, the case of every database made since). A key already written
    in the new layout keeps that row. The sealed values and their associated data are
    unchanged (only the ids change form), so every record opens as before. One process at
    a time: PostgreSQL serialises the upgrade with an advisory lock, SQLite with its writer
    lock, taken before the table is looked for again (a start-up that finds no such table
    takes no lock at all)."""
    exists = _LEGACY_EXISTS[db.dialect]
    with db.read() as cur:
        if cur.one(exists, (LEGACY_TABLE,)) is None:
            return 0
    with db.transaction(write=True) as cur:
        if cur.dialect == "postgres":
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_UPGRADE_LOCK,))
        else:
            cur.execute(f"DELETE FROM {RECORDS_TABLE} WHERE false")  # the writer lock first
        if cur.one(exists, (LEGACY_TABLE,)) is None:
            return 0  # another process moved them meanwhile
        if cur.dialect == "postgres":
            counted = cur.one(f"SELECT COUNT(*) AS n FROM {LEGACY_TABLE}")
            moved = int(counted["n"]) if counted else 0
            cur.execute(_UPGRADE["postgres"])
        else:
            moved, after = 0, -1
            while rows := cur.all(
                    f"SELECT rowid, schema_uuid, key_hash, job_uuid, sealed FROM {LEGACY_TABLE}"
                    f" WHERE rowid > %s ORDER BY rowid LIMIT {_UPGRADE_CHUNK}", (after,)):
                cur.executemany(_UPGRADE["sqlite"], [
                    (UUID(row["schema_uuid"]).bytes, bytes.fromhex(row["key_hash"]),
                     UUID(row["job_uuid"]).bytes, row["sealed"]) for row in rows])
                moved += len(rows)
                after = rows[-1]["rowid"]
        cur.execute(f"DROP TABLE {LEGACY_TABLE}")
    log.warning("collected records: moved %d rows of the first layout into %s",
                moved, RECORDS_TABLE)
    return moved


class SchemaKeyGoneError(Exception):
    """The schema's data key is destroyed (it was erased): no record may be written."""


@dataclass(frozen=True)
class Write:
    """One write of :meth:`RecordStore.store`: its rows and its statement's parameters."""

    rows: int
    params: tuple[Any, ...]


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

    def sealer(self, schema: UUID) -> Sealer | None:
        """What seals the schema's records (its current data key); ``None`` once erased."""
        with self.db.read() as cur:
            key = self._key(cur, schema)
        return None if key is None else Sealer(schema, key)

    def store(self, sealer: Sealer, job: UUID, sealed: Sequence[tuple[bytes, bytes]]) -> int:
        """Write ``(key hash, sealed record)`` pairs (:meth:`Sealer.seal`'s) seen by ``job``;
        the last write of a key wins. One transaction and one statement, whose commit does
        not wait for the disk (``Database.bulk_transaction``: a crash can lose the last
        writes, never tear one, and the sync's next progress event, an ordinary commit,
        makes them durable with it). Raises :class:`SchemaKeyGoneError`, writing nothing,
        when the schema's key is no longer the sealer's (it was erased)."""
        return self.write(sealer, self.prepare(sealer, job, sealed))

    def prepare(self, sealer: Sealer, job: UUID, sealed: Sequence[tuple[bytes, bytes]]
                ) -> Write:
        """The parameters of :meth:`store`'s statement (made by the caller's thread, so the
        writing thread spends its time in the database)."""
        if self.db.dialect == "sqlite":
            lengths = [len(value) for _, value in sealed]
            places = msgspec.json.encode(list(zip(accumulate(lengths, initial=1), lengths,
                                                  strict=False)))
            return Write(len(sealed), (
                sealer.schema_id.bytes, b"".join([key_hash for key_hash, _ in sealed]),
                job.bytes, b"".join([value for _, value in sealed]), places))
        return Write(len(sealed), (sealer.schema_id.bytes, job.bytes,
                                   [key_hash for key_hash, _ in sealed],
                                   [value for _, value in sealed]))

    def write(self, sealer: Sealer, write: Write) -> int:
        """Store a write made by :meth:`prepare` (as :meth:`store`)."""
        if not write.rows:
            return 0
        with self.db.bulk_transaction() as cur:
            if self._key(cur, sealer.schema_id, lock=True) != sealer.key:
                raise SchemaKeyGoneError(str(sealer.schema_id))
            cur.execute(STORE[cur.dialect], write.params)
        return write.rows

    def upsert(self, schema: UUID, job: UUID, rows: Sequence[tuple[str, Mapping[str, Any]]]
               ) -> int:
        """Seal and store ``(primary key text, record)`` pairs (:meth:`store`); raises
        :class:`SchemaKeyGoneError` after an erase."""
        sealer = self.sealer(schema)
        if sealer is None:
            raise SchemaKeyGoneError(str(schema))
        return self.store(sealer, job, sealer.seal(rows))

    def forget_unseen(self, schema: UUID, job: UUID, *, seen: int | None = None) -> int:
        """After a full sync: delete the records that sync did not see (gone at the source).
        ``seen``, when known, is at most the number of keys the sync stored (distinct
        hashes of them): when the schema holds no more rows than that, every row is one of
        them and nothing is scanned for deletion (a count over the primary-key index costs
        less than reading every row's job)."""
        with self.db.transaction(write=True) as cur:
            if seen is not None:
                row = cur.one(f"SELECT COUNT(*) AS n FROM {RECORDS_TABLE}"
                              " WHERE schema_uuid = %s", (schema.bytes,))
                if row is not None and int(row["n"]) <= seen:
                    return 0
            return cur.execute(
                f"DELETE FROM {RECORDS_TABLE} WHERE schema_uuid = %s AND job_uuid <> %s",
                (schema.bytes, job.bytes))

    def get(self, schema: UUID, key_text: str) -> dict[str, Any] | None:
        """One record by its primary key text, or ``None``."""
        with self.db.read() as cur:
            key = self._key(cur, schema)
            if key is None:
                return None
            sealer = Sealer(schema, key)
            row = cur.one(f"SELECT key_hash, sealed FROM {RECORDS_TABLE}"
                          " WHERE schema_uuid = %s AND key_hash = %s",
                          (schema.bytes, sealer.hash(key_text)))
            return None if row is None else sealer.open(row["key_hash"], row["sealed"])

    def page(self, schema: UUID, *, limit: int, cursor: str | None = None,
             where: Mapping[str, Any] | None = None, scan: int | None = None) -> Page:
        """Records in a stable order (by key hash), ``limit`` at a time, only those whose
        fields equal ``where``'s values (strictly: :func:`domain.record_query.matches`).
        The cursor is the last key hash looked at, as hex. With ``scan``, at most that many
        rows are opened: a filter that matches little ends the page early, with a cursor."""
        found: list[dict[str, Any]] = []
        last = bytes.fromhex(cursor or "")
        with self.db.read() as cur:
            key = self._key(cur, schema)
            if key is None:
                return Page([], None)
            sealer = Sealer(schema, key)
            for opened, (key_hash, record) in enumerate(self._scan(cur, sealer, schema, last)):
                if scan is not None and opened == scan:
                    return Page(found, last.hex())
                if where and not matches(record, where):
                    last = key_hash
                    continue
                if len(found) == limit:
                    return Page(found, last.hex())
                found.append(record)
                last = key_hash
        return Page(found, None)

    def count(self, schema: UUID) -> int:
        with self.db.read() as cur:
            row = cur.one(f"SELECT COUNT(*) AS n FROM {RECORDS_TABLE} WHERE schema_uuid = %s",
                          (schema.bytes,))
        return int(row["n"]) if row else 0

    def _scan(self, cur: Cursor, sealer: Sealer, schema: UUID, after: bytes
              ) -> Iterator[tuple[bytes, dict[str, Any]]]:
        while True:
            rows = cur.all(f"SELECT key_hash, sealed FROM {RECORDS_TABLE}"
                           " WHERE schema_uuid = %s AND key_hash > %s"
                           f" ORDER BY key_hash LIMIT {SCAN_CHUNK}", (schema.bytes, after))
            for row in rows:
                key_hash = bytes(row["key_hash"])
                yield key_hash, sealer.open(key_hash, row["sealed"])
            if len(rows) < SCAN_CHUNK:
                return
            after = bytes(rows[-1]["key_hash"])

    def _key(self, cur: Cursor, schema: UUID, *, lock: bool = False) -> bytes | None:
        share = " FOR SHARE" if lock and cur.dialect != "sqlite" else ""
        row = cur.one(f"SELECT data_key FROM {KEYS_TABLE} WHERE originator_id = %s{share}",
                      (str(schema),))
        return None if row is None else bytes(row["data_key"])


class KeyedHash:
    """HMAC-SHA256 (RFC 2104) of texts under one key: ``hmac.new(key, text,
    "sha256").digest()``, computed from copies of the two keyed SHA-256 states (a record
    is one hash; the :mod:`hmac` wrapper's copies cost three times as much)."""

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def __call__(self, text: str) -> bytes:
        inner = self._inner.copy()
        inner.update(text.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_SHA256_BLOCK = 64


class Sealer:
    """Seals and opens one schema's records with its data key."""

    def __init__(self, schema: UUID, key: bytes) -> None:
        self.schema_id = schema
        self.key = key
        self.schema = str(schema).encode()
        self.aead = AESGCM(key)
        self.hash = KeyedHash(key)

    def seal(self, rows: Sequence[tuple[str, Mapping[str, Any]]]
             ) -> list[tuple[bytes, bytes]]:
        """``(key hash, sealed record)`` of ``(primary key text, record)`` pairs, in their
        order. The hash is :meth:`hash`'s; each nonce 12 random bytes, one read of the OS's
        random a call; the associated data the schema id and the key hash as hex."""
        nonces = os.urandom(12 * len(rows))
        encrypt, keyed, schema = self.aead.encrypt, self.hash, self.schema
        sealed = []
        for start, (text, record) in zip(range(0, len(nonces), 12), rows, strict=True):
            key_hash = keyed(text)
            nonce = nonces[start:start + 12]
            sealed.append((key_hash, nonce + encrypt(nonce, _ENCODE(record),
                                                     schema + key_hash.hex().encode())))
        return sealed

    def open(self, key_hash: bytes, sealed: bytes) -> dict[str, Any]:
        sealed = bytes(sealed)
        plain = self.aead.decrypt(sealed[:12], sealed[12:],
                                  self.schema + key_hash.hex().encode())
        record: dict[str, Any] = _DECODE(plain)
        return record


class RecordWriter:
    """Stores a run's sealed records in a thread of its own while the run goes on: each
    :meth:`submit` is one :meth:`RecordStore.store`, done in the order submitted, with at
    most ``ahead`` waiting (the run waits for the oldest beyond that). The writing thread
    holds no lock of Python's while SQLite or PostgreSQL works on a statement, so the run
    seals the next records meanwhile. It also counts the distinct keys it is handed, per
    schema (:meth:`stored_keys`)."""

    def __init__(self, store: RecordStore, job: UUID, *, ahead: int = 2,
                 remember: int = REMEMBERED_KEYS) -> None:
        self.store = store
        self.job = job
        self.ahead = ahead
        self.remember = remember
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")
        self._pending: deque[tuple[UUID, Future[int]]] = deque()
        self._keys: dict[UUID, set[int]] | None = {}
        self._remembered = 0

    def submit(self, sealer: Sealer, sealed: list[tuple[bytes, bytes]]) -> None:
        unfinished = [write for _, write in self._pending if not write.done()]
        if len(unfinished) > self.ahead:
            unfinished[0].exception()  # waits; :meth:`collect` reports the outcome
        self._note(sealer.schema_id, sealed)
        prepared = self.store.prepare(sealer, self.job, sealed)
        self._pending.append((sealer.schema_id, self._thread.submit(
            self.store.write, sealer, prepared)))

    def stored_keys(self, schema: UUID) -> int | None:
        """At most how many distinct keys of ``schema`` the run handed in (64-bit hashes of
        their key hashes are counted), for :meth:`RecordStore.forget_unseen`; ``None`` once
        the run handed in more than ``remember`` keys in all (it stops counting)."""
        return None if self._keys is None else len(self._keys.get(schema, ()))

    def _note(self, schema: UUID, sealed: list[tuple[bytes, bytes]]) -> None:
        if self._keys is None:
            return
        keys = self._keys.setdefault(schema, set())
        before = len(keys)
        keys.update([hash(key_hash) for key_hash, _ in sealed])
        self._remembered += len(keys) - before
        if self._remembered > self.remember:
            self._keys = None

    def idle(self) -> bool:
        """No write is waiting or under way."""
        return all(write.done() for _, write in self._pending)

    def collect(self, *, wait: bool = False) -> tuple[int, list[UUID]]:
        """The rows stored by the writes that finished (with ``wait``: all of them) since
        the last call, and the schemas whose key was gone (erased) at a write. Any other
        failure of a write is raised here."""
        stored, gone = 0, []
        while self._pending and (wait or self._pending[0][1].done()):
            schema, write = self._pending.popleft()
            try:
                stored += write.result()
            except SchemaKeyGoneError:
                gone.append(schema)
        return stored, gone

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Writes not yet started are dropped (the run failed or was stopped); one under way
        ends first."""
        self._thread.shutdown(wait=True, cancel_futures=True)
