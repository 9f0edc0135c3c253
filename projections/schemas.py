"""The schema read models: current state per schema, and every revision with its changes.

``registry_schemas`` holds one row per schema (its document while it has content);
``registry_schema_versions`` holds one row per revision: the document as it was, the change
texts, who and when. An erase deletes the content rows and leaves one erase record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.common import iso_timestamp, parse_timestamp
from domain.ids import encode_schema_id
from domain.model import Field, Relationship, SchemaContent
from domain.schema import Schema, SchemaRedacted, SchemaState
from projections.db import Cursor, Database, Row
from projections.history import ERASED, describe_changes

TABLES = ("registry_schema_versions", "registry_schemas")


def create_tables(db: Database) -> None:
    """Create the read-model tables if they do not exist."""
    with db.transaction(write=True) as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS registry_schemas ("
            " uuid TEXT PRIMARY KEY, tenant TEXT NOT NULL, schema_id TEXT NOT NULL,"
            " connector_id TEXT, entity_type TEXT, status TEXT NOT NULL,"
            " version INTEGER NOT NULL, erased_through INTEGER NOT NULL, document TEXT)"
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS registry_schemas_by_tenant"
            " ON registry_schemas (tenant, schema_id)"
        )
        cur.execute(
            "CREATE TABLE IF NOT EXISTS registry_schema_versions ("
            " uuid TEXT NOT NULL, version INTEGER NOT NULL, tenant TEXT NOT NULL,"
            " changed_at TEXT NOT NULL, changed_by TEXT NOT NULL, changes TEXT NOT NULL,"
            " erased_versions INTEGER, document TEXT, PRIMARY KEY (uuid, version))"
        )


def state_from_row(row: Row) -> SchemaState:
    """Rebuild the domain state from a current-state row."""
    uuid = UUID(row["uuid"])
    if row["document"] is None:
        return SchemaState(
            id=uuid,
            tenant=row["tenant"],
            revision=row["version"],
            erased=row["status"] == "erased",
            erased_through=row["erased_through"],
        )
    doc = json.loads(row["document"])
    content = SchemaContent(
        name=doc["name"],
        entity_type=doc["entityType"],
        fields=tuple(Field.from_dict(f) for f in doc["fields"]),
        relationships=tuple(Relationship.from_dict(r) for r in doc["relationships"]),
    )
    return SchemaState(
        id=uuid,
        tenant=row["tenant"],
        connector_id=doc["connectorId"],
        key=doc["key"],
        content=content,
        revision=doc["version"],
        deleted=doc["deleted"],
        erased_through=row["erased_through"],
        created_at=parse_timestamp(doc["createdAt"]),
        created_by=doc["createdBy"],
        updated_at=parse_timestamp(doc["updatedAt"]),
        updated_by=doc["updatedBy"],
        deleted_at=parse_timestamp(doc["deletedAt"]),
        deleted_by=doc["deletedBy"],
    )


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


class SchemaProjection:
    """Applies schema events to the read-model tables."""

    name = "schemas"

    def apply(self, cur: Cursor, event: object) -> None:
        """Project one event (redacted ones carry nothing and change nothing)."""
        if isinstance(event, SchemaRedacted) or not isinstance(event, Schema.Event):
            return
        uuid = str(event.originator_id)
        row = cur.one("SELECT * FROM registry_schemas WHERE uuid = %s", (uuid,))
        before = state_from_row(row) if row else SchemaState(id=event.originator_id)
        after = event.evolve(before)
        self._save_state(cur, after)
        if isinstance(event, Schema.Erased):
            self._erase(cur, event)
        else:
            self._save_version(cur, event, after)

    def _save_state(self, cur: Cursor, state: SchemaState) -> None:
        status = "erased" if state.erased else "deleted" if state.deleted else "active"
        document = _dump(state.to_document()) if state.exists else None
        cur.execute(
            "INSERT INTO registry_schemas (uuid, tenant, schema_id, connector_id, entity_type,"
            " status, version, erased_through, document) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (uuid) DO UPDATE SET tenant = excluded.tenant,"
            " connector_id = excluded.connector_id, entity_type = excluded.entity_type,"
            " status = excluded.status, version = excluded.version,"
            " erased_through = excluded.erased_through, document = excluded.document",
            (
                str(state.id),
                state.tenant,
                state.schema_id,
                state.connector_id,
                state.content.entity_type if state.content else None,
                status,
                state.revision,
                state.erased_through,
                document,
            ),
        )

    def _save_version(self, cur: Cursor, event: Schema.Event, state: SchemaState) -> None:
        uuid = str(event.originator_id)
        previous = cur.one(
            "SELECT document FROM registry_schema_versions WHERE uuid = %s AND version = %s",
            (uuid, event.revision - 1),
        )
        before = json.loads(previous["document"]) if previous and previous["document"] else None
        document = state.to_document()
        self._upsert_version(
            cur, event, describe_changes(before, document), None, _dump(document)
        )

    def _erase(self, cur: Cursor, event: Schema.Erased) -> None:
        cur.execute(
            "DELETE FROM registry_schema_versions WHERE uuid = %s AND erased_versions IS NULL",
            (str(event.originator_id),),
        )
        self._upsert_version(cur, event, [ERASED], event.erased_versions, None)

    def _upsert_version(
        self,
        cur: Cursor,
        event: Schema.Event,
        changes: list[str],
        erased_versions: int | None,
        document: str | None,
    ) -> None:
        cur.execute(
            "INSERT INTO registry_schema_versions (uuid, version, tenant, changed_at, changed_by,"
            " changes, erased_versions, document) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (uuid, version) DO UPDATE SET changed_at = excluded.changed_at,"
            " changed_by = excluded.changed_by, changes = excluded.changes,"
            " erased_versions = excluded.erased_versions, document = excluded.document",
            (
                str(event.originator_id),
                event.revision,
                event.tenant,
                iso_timestamp(event.timestamp),
                event.actor_email or event.actor_subject,
                json.dumps(changes),
                erased_versions,
                document,
            ),
        )

    def clear(self, cur: Cursor) -> None:
        """Forget everything (before a rebuild)."""
        for table in TABLES:
            cur.execute(f"DELETE FROM {table}")


@dataclass(frozen=True)
class SchemaRecord:
    """A schema as the read model knows it."""

    uuid: UUID
    tenant: str
    status: str
    version: int
    erased_through: int
    document: dict[str, Any] | None

    @property
    def schema_id(self) -> str:
        """The public ``sch_`` id."""
        return encode_schema_id(self.uuid)


def _record(row: Row) -> SchemaRecord:
    return SchemaRecord(
        uuid=UUID(row["uuid"]),
        tenant=row["tenant"],
        status=row["status"],
        version=row["version"],
        erased_through=row["erased_through"],
        document=json.loads(row["document"]) if row["document"] else None,
    )


def _history_entry(row: Row) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "version": row["version"],
        "changedAt": row["changed_at"],
        "changedBy": row["changed_by"],
        "changes": json.loads(row["changes"]),
    }
    if row["erased_versions"] is not None:
        entry["erasedVersions"] = row["erased_versions"]
    return entry


class SchemaQueries:
    """Reads of the schema read models, always scoped to one tenant."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, tenant: str, uuid: UUID) -> SchemaRecord | None:
        """The current record of a schema, or ``None``."""
        with self.db.transaction(write=False) as cur:
            row = cur.one(
                "SELECT * FROM registry_schemas WHERE uuid = %s AND tenant = %s",
                (str(uuid), tenant),
            )
        return None if row is None else _record(row)

    def tenant_of(self, uuid: UUID) -> str | None:
        """The tenant a schema belongs to, whoever asks; ``None`` when unknown."""
        with self.db.transaction(write=False) as cur:
            row = cur.one("SELECT tenant FROM registry_schemas WHERE uuid = %s", (str(uuid),))
        return None if row is None else str(row["tenant"])

    def page(
        self,
        tenant: str,
        *,
        connector_id: str | None,
        entity_type: str | None,
        include_deleted: bool,
        after: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Schema documents in id order, after the ``after`` id, at most ``limit``."""
        sql = "SELECT document FROM registry_schemas WHERE tenant = %s AND document IS NOT NULL"
        params: list[Any] = [tenant]
        for column, value in (("connector_id", connector_id), ("entity_type", entity_type)):
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
        with self.db.transaction(write=False) as cur:
            return [json.loads(row["document"]) for row in cur.all(sql, params)]

    def history(self, tenant: str, uuid: UUID) -> list[dict[str, Any]]:
        """Every recorded revision, newest first."""
        with self.db.transaction(write=False) as cur:
            rows = cur.all(
                "SELECT * FROM registry_schema_versions WHERE uuid = %s AND tenant = %s"
                " ORDER BY version DESC",
                (str(uuid), tenant),
            )
        return [_history_entry(row) for row in rows]

    def version(self, tenant: str, uuid: UUID, version: int) -> dict[str, Any] | None:
        """The document as it was at ``version``, or ``None`` when there is none."""
        with self.db.transaction(write=False) as cur:
            row = cur.one(
                "SELECT document FROM registry_schema_versions"
                " WHERE uuid = %s AND tenant = %s AND version = %s",
                (str(uuid), tenant, version),
            )
        if row is None or row["document"] is None:
            return None
        return dict(json.loads(row["document"]))
