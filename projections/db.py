"""A thin SQL layer over the event store's own database (SQLite or PostgreSQL).

Read models live in the same database as the events. Statements are written once with ``%s``
placeholders; the SQLite dialect rewrites them to ``?``.

Writes go through the event store's datastore (its pool, locks and retries). Reads on SQLite
use a plain read-only connection per thread instead: each statement is its own implicit
transaction, so it always sees the latest committed state of every process, and it costs a
few microseconds instead of a pooled transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Literal, Protocol

log = logging.getLogger("registry.db")

Dialect = Literal["sqlite", "postgres"]
BULK_PRAGMAS = {"synchronous": 1, "wal_autocheckpoint": 16384, "cache_size": -65536}
"""SQLite settings of a bulk transaction, restored after it: commit without waiting for the
disk (``NORMAL``), leave the write-ahead log's checkpoint (up to 64 MiB of it) to the next
ordinary commit, which checkpoints at SQLite's default 1,000 pages as always, and keep up to
64 MiB of pages in memory (random primary-key hashes touch pages all over the table)."""
Row = dict[str, Any]


class _RawCursor(Protocol):
    rowcount: int

    def execute(self, statement: Any, params: Any = ...) -> Any: ...
    def executemany(self, statement: Any, params: Any) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> Any: ...


class Datastore(Protocol):
    """What the event store's datastores (``eventsourcing.sqlite``/``postgres``) offer."""

    def transaction(self, *, commit: bool) -> Any: ...
    def get_connection(self, **kwargs: Any) -> Any: ...


class Cursor:
    """Executes dialect-neutral SQL and returns rows as dicts."""

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        # eventsourcing wraps sqlite3 cursors; use the driver's own, which has ``rowcount``.
        self._raw: _RawCursor = getattr(raw, "sqlite_cursor", raw)
        self.dialect = dialect
        self.notification_id: int | None = None
        """The notification id of the event being projected (set by the projector)."""

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; answers the rows it changed (-1 inside a PostgreSQL pipeline)."""
        if self.dialect == "sqlite":
            statement = _sqlite(statement)
        self._raw.execute(statement, tuple(params))
        return int(self._raw.rowcount)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row of parameters (a batch)."""
        if self.dialect == "sqlite":
            statement = _sqlite(statement)
        self._raw.executemany(statement, [tuple(row) for row in rows])

    def one(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of a query, or ``None``."""
        self.execute(statement, params)
        row = self._raw.fetchone()
        return None if row is None else dict(row)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a query."""
        self.execute(statement, params)
        return [dict(row) for row in self._raw.fetchall()]


@lru_cache(maxsize=256)
def _sqlite(statement: str) -> str:
    return statement.replace("%s", "?")


class _SQLiteReaders(threading.local):
    """One read-only connection per thread, opened on first use."""

    connection: sqlite3.Connection | None = None


class Database:
    """Transactions on the event store's database, for read models and key storage."""

    def __init__(self, datastore: Datastore, dialect: Dialect) -> None:
        self.datastore = datastore
        self.dialect = dialect
        self._readers = _SQLiteReaders()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Cursor]:
        """A transaction; committed on success when ``write``, else always rolled back."""
        with self.datastore.transaction(commit=write) as raw:
            yield Cursor(raw, self.dialect)

    @contextmanager
    def bulk_transaction(self) -> Iterator[Cursor]:
        """A write transaction whose commit does not wait for the disk: for bulk data that is
        not the truth (collected records), never for events.

        SQLite: :data:`BULK_PRAGMAS` (``synchronous = NORMAL`` …) on the writer connection
        for this transaction only (restored before the connection goes back to the pool, or
        the connection is closed); in WAL mode the commit is
        atomic and ordered, only not yet flushed, and the next ordinary commit's flush of
        the log carries it. PostgreSQL: ``SET LOCAL synchronous_commit = off``, the same.
        """
        if self.dialect != "sqlite":
            with self.transaction(write=True) as cur:
                cur.execute("SET LOCAL synchronous_commit = off")
                yield cur
            return
        with self.datastore.get_connection(commit=True) as conn:
            setting = conn.cursor()
            before: dict[str, int] = {}
            try:
                for name, value in BULK_PRAGMAS.items():
                    setting.execute(f"PRAGMA {name}")
                    before[name] = int(setting.fetchone()[0])
                    setting.execute(f"PRAGMA {name} = {value}")
                with conn.transaction(commit=True) as raw:
                    yield Cursor(raw, "sqlite")
            finally:
                try:
                    for name, value in before.items():
                        setting.execute(f"PRAGMA {name} = {value}")
                except sqlite3.Error:
                    # Never hand back a connection that commits less durably: closed, it
                    # does not go back to the pool, which opens a fresh one.
                    conn.close()
                    raise

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        """A cursor for reads of committed state: on SQLite no pool and no lock.

        Its statements end when the block ends, so no read snapshot outlives the block.
        """
        if self.dialect != "sqlite":
            with self.transaction(write=False) as cur:
                yield cur
            return
        connection = self._readers.connection or self._open_reader()
        raw = connection.cursor()
        try:
            yield Cursor(raw, "sqlite")
        finally:
            raw.close()

    def one(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        """One row of committed state, by the shortest route (the hot path of reads)."""
        if self.dialect != "sqlite":
            with self.transaction(write=False) as cur:
                return cur.one(statement, params)
        connection = self._readers.connection or self._open_reader()
        row = connection.execute(_sqlite(statement), tuple(params)).fetchone()
        return None if row is None else dict(row)

    def _open_reader(self) -> sqlite3.Connection:
        pool: Any = getattr(self.datastore, "pool")  # noqa: B009 - untyped eventsourcing attribute
        connection = sqlite3.connect(
            pool.db_name, uri=True, check_same_thread=False, isolation_level=None
        )
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA query_only = ON")
        self._readers.connection = connection
        with self._lock:
            self._opened.append(connection)
        return connection

    def close(self) -> None:
        """Close the read connections (the datastore is closed by its application)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        self._readers = _SQLiteReaders()

    def reclaim_space(self, tables: Sequence[str]) -> None:
        """Physically drop deleted row versions, so erased content leaves no trace on disk.

        SQLite zeroes freed pages (``secure_delete``) and the WAL is checkpointed and
        truncated; PostgreSQL's dead tuples are removed with ``VACUUM``.
        """
        if self.dialect == "sqlite":
            with self.datastore.get_connection(commit=True) as conn:
                cursor = conn.cursor()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy = cursor.fetchone()[0]
            if busy:
                log.warning("WAL checkpoint was blocked by a reader; the next erase retries it")
            return
        with self.datastore.get_connection() as conn:
            # The pool's connections are in autocommit mode (the event recorder asserts so):
            # hand this one back as it came.
            before = conn.autocommit
            conn.autocommit = True
            try:
                for table in tables:
                    conn.execute(f"VACUUM {table}")
            finally:
                conn.autocommit = before
