"""Event store wiring: eventsourcing's SQLite and PostgreSQL modules, extended for erasure.

Each schema's events are encrypted with a data key of its own (``registry_data_keys``). The
recorders destroy those keys *in the same transaction* that stores the erase event, so an erase
is all-or-nothing. SQLite connections use ``secure_delete`` so freed pages are zeroed.

The recorders also let the read models be written in the transaction that stores the events
(``PROJECT``), so a command costs one transaction and its effect is visible once it commits.

On PostgreSQL the connection pool sits behind a breaker (:mod:`registry.health`): a database
that does not answer makes calls fail at once with ``DatabaseUnavailableError`` instead of
waiting for timeouts, and the recorders never retry a call by themselves (eventsourcing retries
ten times, 0.2 s apart; a retried insert whose first commit was lost in transit would report a
conflict for the caller's own write).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import ConnectionPool, PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)
from psycopg.sql import SQL

from registry.health import DatabaseHealth

KEYS_TABLE = "registry_data_keys"
DESTROY_KEYS = "destroy_keys_of"
"""Keyword argument of ``Application.save``: ids whose data keys the save destroys."""
PROJECT = "project_inline"
"""Keyword argument of ``Application.save``: ``hook(cursor, dialect, table, column, ids)``,
called in the save's transaction once the events have their notification ids."""


RECORDS_TABLE = "registry_sealed_records"
"""Collected records (``registry.records``): deleted with their schema's key, in its erase."""


def records_table_statement(blob_type: str) -> str:
    """DDL of the records table: one row per schema and primary-key hash, sealed. The ids
    are bytes (the schema's and the job's UUID, 16; the HMAC of the primary key, 32): the
    smaller the index entries, the fewer pages a write touches."""
    return (
        f"CREATE TABLE IF NOT EXISTS {RECORDS_TABLE} ("
        f" schema_uuid {blob_type} NOT NULL, key_hash {blob_type} NOT NULL,"
        f" job_uuid {blob_type} NOT NULL, sealed {blob_type} NOT NULL,"
        " PRIMARY KEY (schema_uuid, key_hash))"
    )


def keys_table_statement(blob_type: str) -> str:
    """DDL of the data-key table: one live key per aggregate at most."""
    return (
        f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} ("
        " key_id TEXT PRIMARY KEY, originator_id TEXT NOT NULL UNIQUE,"
        f" data_key {blob_type} NOT NULL)"
    )


def _ids(kwargs: dict[str, Any]) -> list[str]:
    return [str(i) for i in kwargs.get(DESTROY_KEYS) or ()]


class _SecureSQLitePool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.cursor().execute("PRAGMA secure_delete = ON")
        return connection


class RegistrySQLiteRecorder(SQLiteApplicationRecorder):
    """SQLite application recorder that also owns the data-key table."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), keys_table_statement("BLOB"),
                records_table_statement("BLOB")]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        for originator_id in _ids(kwargs):
            c.execute(f"DELETE FROM {KEYS_TABLE} WHERE originator_id = ?", (originator_id,))
            c.execute(f"DELETE FROM {RECORDS_TABLE} WHERE schema_uuid = ?",
                      (UUID(originator_id).bytes,))
        hook = kwargs.get(PROJECT)
        if hook is not None and ids:
            hook(c, "sqlite", self.events_table_name, "rowid", ids)
        return ids


class RegistrySQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite module with the registry's recorder and secure deletes."""

    application_recorder_class = RegistrySQLiteRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        self.datastore.pool = _SecureSQLitePool(
            db_name=pool.db_name, lock_timeout=pool.lock_timeout
        )
        pool.close()


def _unretried(method: Any) -> Any:
    """eventsourcing's recorder method without its ``@retry`` wrapper."""
    return method.__wrapped__


class RegistryPostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL application recorder that also owns the data-key table, and never retries."""

    insert_events = _unretried(PostgresApplicationRecorder.insert_events)
    select_events = _unretried(PostgresApplicationRecorder.select_events)
    select_notifications = _unretried(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _unretried(PostgresApplicationRecorder.max_notification_id)

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.append(SQL(keys_table_statement("BYTEA")))  # type: ignore[arg-type]
        self.sql_create_statements.append(SQL(records_table_statement("BYTEA")))  # type: ignore[arg-type]

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        for originator_id in _ids(kwargs):
            curs.execute(
                SQL(f"DELETE FROM {KEYS_TABLE} WHERE originator_id = %s"),
                (originator_id,),
            )
            curs.execute(
                SQL(f"DELETE FROM {RECORDS_TABLE} WHERE schema_uuid = %s"),
                (UUID(originator_id).bytes,),
            )


    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        hook = kwargs.get(PROJECT)
        if hook is not None and ids:
            hook(curs, "postgres", self.events_table_name, "notification_id", ids)
        return ids


class GuardedPool:
    """The datastore's connection pool behind the database's breaker.

    Every checkout asks :class:`DatabaseHealth` first (immediate 503 while the database is
    down); an error while a connection is in use (the commit included) is classified there.
    While the database is down the pool is closed, so nobody waits on it and it does not keep
    reconnecting (and logging) in the background; it is replaced by a fresh one when a probe
    succeeds.
    """

    def __init__(self, make: Callable[[], ConnectionPool[Any]], health: DatabaseHealth) -> None:
        self._make = make
        self.health = health
        self.pool = make()

    def open(self, wait: bool = False, timeout: float = 30.0) -> None:
        """Called by the datastore before each checkout."""
        self.health.check()
        try:
            self.pool.open(wait, timeout)
        except Exception as error:
            problem = self.health.failed(error)
            if problem is None:
                raise
            raise problem from error

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Any]:
        """A pooled connection; outages become ``DatabaseUnavailableError``."""
        self.health.check()
        try:
            with self.pool.connection(timeout) as conn:
                yield conn
        except Exception as error:
            problem = self.health.failed(error)
            if problem is None:
                raise
            raise problem from error

    def replace(self) -> None:
        """Start over with a fresh pool (the database is back)."""
        old, self.pool = self.pool, self._make()
        old.close(timeout=0.5)

    def close(self, timeout: float = 5.0) -> None:
        """Close the current pool; waiting checkouts fail at once."""
        self.pool.close(timeout)

    def __enter__(self) -> GuardedPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class RegistryPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL module with the registry's recorder and a guarded pool.

    Besides eventsourcing's settings it reads ``POSTGRES_CONNECT_TIMEOUT`` as libpq's connect
    timeout (eventsourcing uses it as the pool's wait) and ``POSTGRES_POOL_TIMEOUT``, how long a
    call waits for a free connection before it is answered 503.
    """

    application_recorder_class = RegistryPostgresRecorder
    POSTGRES_POOL_TIMEOUT = "POSTGRES_POOL_TIMEOUT"

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        datastore: Any = self.datastore
        original: Any = datastore.pool
        connect_timeout = int(self.env.get(self.POSTGRES_CONNECT_TIMEOUT) or "2")
        pool_timeout = float(self.env.get(self.POSTGRES_POOL_TIMEOUT) or "1.5")
        kwargs = {**(original.kwargs or {}), "connect_timeout": connect_timeout}
        min_size, max_size = original.min_size, original.max_size
        max_waiting, max_lifetime = original.max_waiting, original.max_lifetime
        check = ConnectionPool.check_connection if datastore.pre_ping else None
        configure = datastore.after_connect_func()
        probe_kwargs = {k: v for k, v in kwargs.items() if k != "row_factory"}

        def make() -> ConnectionPool[Any]:
            return ConnectionPool(
                connection_class=original.connection_class, kwargs=kwargs, min_size=min_size,
                max_size=max_size, open=False, configure=configure, timeout=pool_timeout,
                max_waiting=max_waiting, max_lifetime=max_lifetime, check=check,
            )

        def probe() -> None:
            with psycopg.connect(**probe_kwargs, autocommit=True) as conn:
                conn.execute("SELECT 1")

        where = f"PostgreSQL at {kwargs.get('host')}:{kwargs.get('port')}"
        health = DatabaseHealth(where, probe, on_down=lambda: guarded.close(0.5),
                                on_back=lambda: guarded.replace())
        guarded = GuardedPool(make, health)
        datastore.pool = guarded
        original.close()

