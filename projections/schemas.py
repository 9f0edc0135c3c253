"""The schema read models: current state per schema, and every revision with its changes.

``registry_schemas`` holds one row per schema (its state while it has content);
``registry_schema_versions`` holds one row per revision: the state as it was, the change
texts, who and when. An erase deletes the content rows and leaves one erase record.

Rows hold the domain state in a plain JSON form private to this module; the API decides how
a schema looks on the wire.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from domain.common import iso_timestamp, parse_timestamp
from domain.model import SchemaContent, fingerprint
from domain.schema import Schema, SchemaRedacted, SchemaState
from projections import timeline
from projections.db import Cursor, Database, Row
from projections.history import describe_changes
from projections.revisions import (
    Head,
    Revision,
    RevisionTable,
    read_current,
    read_head,
    read_tenant,
    status_of,
)

TABLES = ("registry_schema_versions", "registry_schemas", timeline.TABLE)


SchemaHead = Head
"""Version and status of a schema (the shared head of a read model)."""

VERSIONS = RevisionTable("registry_schema_versions", "document")

__all__ = [
    "TABLES", "Revision", "SchemaHead", "SchemaProjection", "SchemaQueries", "dump_state",
    "history_view", "load_state", "state_from_row", "status_of",
]


def dump_state(state: SchemaState) -> str:
    """The state of a schema with content, as stored in a row."""
    assert state.content is not None
    return json.dumps(
        {
            "connector_id": state.connector_id,
            "key": state.key,
            "content": state.content.to_document(),
            "revision": state.revision,
            "deleted": state.deleted,
            "created_at": iso_timestamp(state.created_at),
            "created_by": state.created_by,
            "updated_at": iso_timestamp(state.updated_at),
            "updated_by": state.updated_by,
            "deleted_at": iso_timestamp(state.deleted_at),
            "deleted_by": state.deleted_by,
            "compatibility": state.compatibility,
        },
        separators=(",", ":"),
    )


def load_state(uuid: UUID, tenant: str, erased_through: int, text: str) -> SchemaState:
    """The inverse of :func:`dump_state`."""
    data = json.loads(text)
    return SchemaState(
        id=uuid,
        tenant=tenant,
        connector_id=data["connector_id"],
        key=data["key"],
        content=SchemaContent.from_document(data["content"]),
        revision=data["revision"],
        deleted=data["deleted"],
        erased_through=erased_through,
        created_at=parse_timestamp(data["created_at"]),
        created_by=data["created_by"],
        updated_at=parse_timestamp(data["updated_at"]),
        updated_by=data["updated_by"],
        deleted_at=parse_timestamp(data["deleted_at"]),
        deleted_by=data["deleted_by"],
        compatibility=data.get("compatibility"),
    )


def state_from_row(row: Row) -> SchemaState:
    """The domain state of a current-state row."""
    uuid = UUID(row["uuid"])
    if row["document"] is None:
        return SchemaState(
            id=uuid,
            tenant=row["tenant"],
            revision=row["version"],
            erased=row["status"] == "erased",
            erased_through=row["erased_through"],
        )
    return load_state(uuid, row["tenant"], row["erased_through"], row["document"])


def history_view(state: SchemaState | None) -> dict[str, Any] | None:
    """The document the history texts compare: the content, deleted and the own mode."""
    if state is None or state.content is None:
        return None
    return state.content.to_document() | {
        "deleted": state.deleted, "compatibility": state.compatibility}


class SchemaProjection:
    """Applies schema events to the read-model tables."""

    name = "schemas"
    version = 4
    tables: tuple[str, ...] = TABLES

    def create_tables(self, cur: Cursor) -> None:
        """Create the read-model tables if they do not exist."""
        cur.execute(
            "CREATE TABLE IF NOT EXISTS registry_schemas ("
            " uuid TEXT PRIMARY KEY, tenant TEXT NOT NULL, schema_id TEXT NOT NULL,"
            " connector_id TEXT, entity_type TEXT, status TEXT NOT NULL,"
            " version INTEGER NOT NULL, erased_through INTEGER NOT NULL, document TEXT,"
            " fingerprint TEXT)"
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS registry_schemas_by_fingerprint"
            " ON registry_schemas (tenant, fingerprint)"
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS registry_schemas_by_tenant"
            " ON registry_schemas (tenant, schema_id)"
        )
        VERSIONS.create(cur)
        timeline.create(cur)

    def apply(self, cur: Cursor, event: object) -> None:
        """Project one event (redacted ones carry nothing and change nothing)."""
        if isinstance(event, SchemaRedacted) or not isinstance(event, Schema.Event):
            return
        uuid = str(event.originator_id)
        row = cur.one("SELECT * FROM registry_schemas WHERE uuid = %s", (uuid,))
        before = state_from_row(row) if row else SchemaState(id=event.originator_id)
        after = event.evolve(before)
        self._save_state(cur, after)
        timeline.record(cur, event, after)
        if isinstance(event, Schema.Erased):
            self._erase(cur, event)
        else:
            self._save_version(cur, event, after)

    def _save_state(self, cur: Cursor, state: SchemaState) -> None:
        cur.execute(
            "INSERT INTO registry_schemas (uuid, tenant, schema_id, connector_id, entity_type,"
            " status, version, erased_through, document, fingerprint)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (uuid) DO UPDATE SET tenant = excluded.tenant,"
            " connector_id = excluded.connector_id, entity_type = excluded.entity_type,"
            " status = excluded.status, version = excluded.version,"
            " erased_through = excluded.erased_through, document = excluded.document,"
            " fingerprint = excluded.fingerprint",
            (
                str(state.id),
                state.tenant,
                state.schema_id,
                state.connector_id,
                state.content.entity_type if state.content else None,
                status_of(state),
                state.revision,
                state.erased_through,
                dump_state(state) if state.exists else None,
                fingerprint(state.content) if state.content else None,
            ),
        )

    def _save_version(self, cur: Cursor, event: Schema.Event, state: SchemaState) -> None:
        previous = VERSIONS.stored(cur, event.originator_id, event.revision - 1)
        before = None
        if previous and previous["state"]:
            before = load_state(state.id, state.tenant, 0, previous["state"])
        changes = describe_changes(history_view(before), history_view(state) or {})
        VERSIONS.upsert(cur, event, changes, None, dump_state(state))

    def _erase(self, cur: Cursor, event: Schema.Erased) -> None:
        VERSIONS.erase(cur, event, event.erased_versions)


class SchemaQueries:
    """Reads of the schema read models, always scoped to one tenant."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def head(self, tenant: str, uuid: UUID) -> SchemaHead | None:
        """Version and status of a schema: one indexed lookup, no document."""
        return read_head(self.db, "registry_schemas", tenant, uuid)

    def get(self, tenant: str, uuid: UUID) -> SchemaState | None:
        """The current state of a schema, or ``None``."""
        row = read_current(self.db, "registry_schemas", tenant, uuid)
        return None if row is None else state_from_row(row)

    def tenant_of(self, uuid: UUID) -> str | None:
        """The tenant a schema belongs to, whoever asks; ``None`` when unknown."""
        return read_tenant(self.db, "registry_schemas", uuid)

    def page(
        self,
        tenant: str,
        *,
        connector_id: str | None,
        entity_type: str | None,
        include_deleted: bool,
        after: str | None,
        limit: int,
        fingerprint: str | None = None,
    ) -> list[SchemaState]:
        """Schemas in id order, after the ``after`` id, at most ``limit``."""
        sql = "SELECT * FROM registry_schemas WHERE tenant = %s AND document IS NOT NULL"
        params: list[Any] = [tenant]
        for column, value in (("connector_id", connector_id), ("entity_type", entity_type),
                              ("fingerprint", fingerprint)):
            if value is not None:
                sql += f" AND {column} = %s"
                params.append(value)
        if not include_deleted:
            sql += " AND status = 'active'"
        if after is not None:
            sql += " AND schema_id > %s"
            params.append(after)
        sql += " ORDER BY schema_id LIMIT %s"
        params.append(limit)
        with self.db.read() as cur:
            return [state_from_row(row) for row in cur.all(sql, params)]

    def history(self, tenant: str, uuid: UUID, through: int | None = None) -> list[Revision]:
        """Every recorded revision (up to ``through``), newest first."""
        revisions = VERSIONS.history(self.db, tenant, uuid)
        return [r for r in revisions if through is None or r.version <= through]

    def moment(self, tenant: str, uuid: UUID, at: str) -> timeline.Moment | None:
        """The schema's latest revision at ``at`` (an ``iso_timestamp``), if it had one."""
        return timeline.moment(self.db, tenant, uuid, at)

    def page_at(self, tenant: str, at: str, where: timeline.PageFilter, after: str | None,
                limit: int) -> list[SchemaState]:
        """The schema list as it was at ``at`` (see :func:`timeline.page`)."""
        rows = timeline.page(self.db, tenant, at, where, after, limit)
        return [load_state(UUID(r["uuid"]), r["tenant"], 0, r["document"]) for r in rows]

    def version(self, tenant: str, uuid: UUID, version: int) -> SchemaState | None:
        """The schema as it was at ``version``, or ``None`` when there is none."""
        document = VERSIONS.state_at(self.db, tenant, uuid, version)
        return None if document is None else load_state(uuid, tenant, 0, document)
