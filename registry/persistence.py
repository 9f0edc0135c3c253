"""Event store wiring: eventsourcing's SQLite and PostgreSQL modules, extended for erasure.

Each schema's events are encrypted with a data key of its own (``registry_data_keys``). The
recorders destroy those keys *in the same transaction* that stores the erase event, so an erase
is all-or-nothing. SQLite connections use ``secure_delete`` so freed pages are zeroed.

The recorders also let the read models be written in the transaction that stores the events
(``PROJECT``), so a command costs one transaction and its effect is visible once it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)
from psycopg.sql import SQL

KEYS_TABLE = "registry_data_keys"
DESTROY_KEYS = "destroy_keys_of"
"""Keyword argument of ``Application.save``: ids whose data keys the save destroys."""
PROJECT = "project_inline"
"""Keyword argument of ``Application.save``: ``hook(cursor, dialect, table, column, ids)``,
called in the save's transaction once the events have their notification ids."""


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
        return [*super().construct_create_table_statements(), keys_table_statement("BLOB")]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        for originator_id in _ids(kwargs):
            c.execute(f"DELETE FROM {KEYS_TABLE} WHERE originator_id = ?", (originator_id,))
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


class RegistryPostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL application recorder that also owns the data-key table."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.append(SQL(keys_table_statement("BYTEA")))  # type: ignore[arg-type]

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        for originator_id in _ids(kwargs):
            curs.execute(
                SQL(f"DELETE FROM {KEYS_TABLE} WHERE originator_id = %s"),
                (originator_id,),
            )


    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        hook = kwargs.get(PROJECT)
        if hook is not None and ids:
            hook(curs, "postgres", self.events_table_name, "notification_id", ids)
        return ids


class RegistryPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL module with the registry's recorder."""

    application_recorder_class = RegistryPostgresRecorder

