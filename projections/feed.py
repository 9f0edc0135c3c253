"""The change feed: every revision of the tenant's schemas and connectors, in commit order.

One row per revision ``(uuid, version)``, positioned at the notification id of the revision's
last event, so reading ``position > cursor`` in position order is the commit order and a
cursor resumes without gaps or duplicates. The change texts are the history's own (copied
from the revision rows the schema and connector projections have just written, so this
projection runs after them). An erase deletes every row of the erased resource and adds the
erase itself: no row holds erased content, live or rebuilt.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from uuid import UUID

from domain.common import iso_timestamp
from domain.connectors.connector import ConnectorRedacted
from domain.connectors.events import ConnectorEvent
from domain.connectors.ids import encode_connector_id
from domain.ids import encode_schema_id
from domain.schema import Schema, SchemaRedacted
from projections.connectors import VERSIONS as CONNECTOR_VERSIONS
from projections.db import Cursor, Database, Row
from projections.history import ERASED
from projections.revisions import RevisionEvent, RevisionTable
from projections.schemas import VERSIONS as SCHEMA_VERSIONS

TABLE = "registry_feed"
_VERBS = {"Created": "created", "Recreated": "created", "Deleted": "deleted",
          "Restored": "restored", "Erased": "erased"}
"""Event class name -> the verb of an entry's ``type``; any other event is ``updated``."""


@dataclass(frozen=True)
class FeedEntry:
    """One revision of one resource, as the feed shows it."""

    position: int
    type: str
    resource_id: str
    version: int
    changed_at: str
    changed_by: str
    changes: list[str]


def encode_cursor(position: int) -> str:
    """The opaque cursor of a feed position (``events|<notification id>``, base64url)."""
    return base64.urlsafe_b64encode(f"events|{position}".encode()).decode().rstrip("=")


def _kind(event: object) -> tuple[str, RevisionTable, str] | None:
    """The resource kind, its revision table and public id of an event the feed shows."""
    if isinstance(event, Schema.Event):
        return "schema", SCHEMA_VERSIONS, encode_schema_id(event.originator_id)
    if isinstance(event, ConnectorEvent):
        return "connector", CONNECTOR_VERSIONS, encode_connector_id(event.originator_id)
    return None


class FeedProjection:
    """Keeps one feed row per schema and connector revision (after their own projections)."""

    name = "feed"
    version = 1
    tables: tuple[str, ...] = (TABLE,)

    def create_tables(self, cur: Cursor) -> None:
        """Create the feed table if it does not exist."""
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            " uuid TEXT NOT NULL, version INTEGER NOT NULL, position BIGINT NOT NULL,"
            " tenant TEXT NOT NULL, type TEXT NOT NULL, resource_id TEXT NOT NULL,"
            " changed_at TEXT NOT NULL, changed_by TEXT NOT NULL, changes TEXT NOT NULL,"
            " PRIMARY KEY (uuid, version))"
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_by_tenant ON {TABLE} (tenant, position)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_by_position ON {TABLE} (position)")

    def apply(self, cur: Cursor, event: object) -> None:
        """Add or extend the row of the event's revision (redacted events are skipped)."""
        kind = _kind(event)
        if kind is None or cur.notification_id is None:
            return
        if isinstance(event, SchemaRedacted | ConnectorRedacted):
            return
        assert isinstance(event, Schema.Event | ConnectorEvent)
        name, versions, resource_id = kind
        verb = _VERBS.get(type(event).__name__, "updated")
        uuid = str(event.originator_id)
        if verb == "erased":
            cur.execute(f"DELETE FROM {TABLE} WHERE uuid = %s", (uuid,))
            changes = [ERASED]
        else:
            stored = versions.stored(cur, event.originator_id, event.revision)
            changes = json.loads(stored["changes"]) if stored else []
        self._upsert(cur, event, f"{name}.{verb}", resource_id, changes)

    def _upsert(self, cur: Cursor, event: RevisionEvent, type_: str, resource_id: str,
                changes: list[str]) -> None:
        # A revision's first specific verb wins over ``updated`` (Created + more events).
        cur.execute(
            f"INSERT INTO {TABLE} (uuid, version, position, tenant, type, resource_id,"
            " changed_at, changed_by, changes) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (uuid, version) DO UPDATE SET position = excluded.position,"
            f" type = CASE WHEN {TABLE}.type LIKE %s THEN excluded.type"
            f" ELSE {TABLE}.type END,"
            " changed_at = excluded.changed_at, changed_by = excluded.changed_by,"
            " changes = excluded.changes",
            (str(event.originator_id), event.revision, cur.notification_id, event.tenant,
             type_, resource_id, iso_timestamp(event.timestamp),
             event.actor_email or event.actor_subject, json.dumps(changes), "%.updated"),
        )


def _entry(row: Row) -> FeedEntry:
    return FeedEntry(position=int(row["position"]), type=row["type"],
                     resource_id=row["resource_id"], version=row["version"],
                     changed_at=row["changed_at"], changed_by=row["changed_by"],
                     changes=json.loads(row["changes"]))


class FeedQueries:
    """Reads of the feed, scoped to one tenant (the webhook outbox reads all tenants)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(self, tenant: str, after: int, limit: int) -> list[FeedEntry]:
        """The tenant's entries positioned after ``after``, in commit order, at most ``limit``."""
        with self.db.read() as cur:
            rows = cur.all(f"SELECT * FROM {TABLE} WHERE tenant = %s AND position > %s"
                           " ORDER BY position LIMIT %s", (tenant, after, limit))
        return [_entry(row) for row in rows]

    def entry(self, tenant: str, uuid: UUID, version: int) -> FeedEntry | None:
        """One entry by resource and version, or ``None`` (never written, or erased)."""
        with self.db.read() as cur:
            row = cur.one(f"SELECT * FROM {TABLE} WHERE uuid = %s AND version = %s"
                          " AND tenant = %s", (str(uuid), version, tenant))
        return None if row is None else _entry(row)
