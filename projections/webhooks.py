"""Webhook read models: the endpoints (never their secrets) and the delivery outbox.

The outbox is fed from the event store: each schema or connector revision (its feed row,
written just before in the same transaction) adds one pending delivery per live endpoint of
its tenant that wants its type. Delivery events then record each attempt on the row. So the
outbox and its log are rebuilt from the events like every other read model, and no row holds
content: a delivery names its change (resource, version, feed position), and the sender reads
the change from the feed when it sends, so an erased change is never sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.common import iso_timestamp, parse_timestamp
from domain.connectors.connector import ConnectorRedacted
from domain.connectors.events import ConnectorEvent
from domain.connectors.events import Erased as ConnectorErased
from domain.schema import Schema, SchemaRedacted
from domain.webhooks.endpoint import (
    DeliveryEvent,
    DeliveryState,
    WebhookEvent,
    WebhookRedacted,
    WebhookState,
    delivery_uuid,
)
from projections.db import Cursor, Database, Row
from projections.feed import TABLE as FEED
from projections.revisions import Revision, RevisionTable, append_change, status_of

ENDPOINTS = "registry_webhooks"
DELIVERIES = "registry_webhook_deliveries"
VERSIONS = RevisionTable("registry_webhook_versions", "state")
"""One row per endpoint revision (its history); the state is its URL and types, no secret."""


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as its log shows it."""

    id: UUID
    tenant: str
    endpoint: UUID
    resource: UUID
    version: int
    position: int
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    updated_at: str
    delivered_at: str | None


class WebhookProjection:
    """Endpoints and the delivery outbox (after the feed projection)."""

    name = "webhooks"
    version = 1
    tables: tuple[str, ...] = (ENDPOINTS, DELIVERIES, VERSIONS.table)

    def create_tables(self, cur: Cursor) -> None:
        """Create the tables if they do not exist."""
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {ENDPOINTS} ("
            " uuid TEXT PRIMARY KEY, tenant TEXT NOT NULL, webhook_id TEXT NOT NULL,"
            " url TEXT, event_types TEXT NOT NULL, status TEXT NOT NULL,"
            " version INTEGER NOT NULL, created_at TEXT, created_by TEXT)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {ENDPOINTS}_by_tenant"
                    f" ON {ENDPOINTS} (tenant, webhook_id)")
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {DELIVERIES} ("
            " id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL,"
            " resource TEXT NOT NULL, version INTEGER NOT NULL, position BIGINT NOT NULL,"
            " status TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT,"
            " next_attempt_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
            " delivered_at TEXT)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {DELIVERIES}_by_endpoint"
                    f" ON {DELIVERIES} (endpoint, position)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {DELIVERIES}_due"
                    f" ON {DELIVERIES} (status, next_attempt_at)")
        VERSIONS.create(cur)

    def apply(self, cur: Cursor, event: object) -> None:
        """Project endpoint and delivery events; enqueue deliveries for changes."""
        if isinstance(event, WebhookRedacted | SchemaRedacted | ConnectorRedacted):
            return
        if isinstance(event, WebhookEvent):
            self._endpoint(cur, event)
        elif isinstance(event, DeliveryEvent):
            self._attempt(cur, event)
        elif isinstance(event, Schema.Event | ConnectorEvent):
            if isinstance(event, Schema.Erased | ConnectorErased):
                # Like the feed: nothing of an erased resource stays, not even its log rows
                # (a rebuild, which reads its old events redacted, never makes them).
                cur.execute(f"DELETE FROM {DELIVERIES} WHERE resource = %s",
                            (str(event.originator_id),))
            self._enqueue(cur, event.originator_id, event.revision)

    def _endpoint(self, cur: Cursor, event: WebhookEvent) -> None:
        row = cur.one(f"SELECT * FROM {ENDPOINTS} WHERE uuid = %s", (str(event.originator_id),))
        before = _endpoint_state(row) if row else WebhookState(id=event.originator_id)
        after: WebhookState = event.evolve(before)
        cur.execute(
            f"INSERT INTO {ENDPOINTS} (uuid, tenant, webhook_id, url, event_types, status,"
            " version, created_at, created_by) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (uuid) DO UPDATE SET status = excluded.status,"
            " version = excluded.version",
            (str(after.id), after.tenant, after.webhook_id, after.url,
             json.dumps(list(after.event_types)), status_of(after), after.revision,
             iso_timestamp(after.created_at), after.created_by))
        state = json.dumps({"url": after.url, "eventTypes": list(after.event_types)})
        append_change(VERSIONS, cur, event, event.text(), state)

    def _enqueue(self, cur: Cursor, resource: UUID, version: int) -> None:
        change = cur.one(f"SELECT tenant, type, position, changed_at FROM {FEED}"
                         " WHERE uuid = %s AND version = %s", (str(resource), version))
        if change is None:
            return
        endpoints = cur.all(f"SELECT uuid, event_types FROM {ENDPOINTS}"
                            " WHERE tenant = %s AND status = 'active'", (change["tenant"],))
        for endpoint in endpoints:
            wanted = json.loads(endpoint["event_types"])
            if "*" not in wanted and change["type"] not in wanted:
                continue
            uuid = delivery_uuid(UUID(endpoint["uuid"]), resource, version)
            cur.execute(
                f"INSERT INTO {DELIVERIES} (id, tenant, endpoint, resource, version, position,"
                " status, attempts, next_attempt_at, created_at, updated_at)"
                " VALUES (%s,%s,%s,%s,%s,%s,'pending',0,%s,%s,%s)"
                " ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                (str(uuid), change["tenant"], endpoint["uuid"], str(resource), version,
                 change["position"], change["changed_at"], change["changed_at"],
                 change["changed_at"]))

    def _attempt(self, cur: Cursor, event: DeliveryEvent) -> None:
        row = cur.one(f"SELECT * FROM {DELIVERIES} WHERE id = %s", (str(event.originator_id),))
        if row is None:
            return
        state = event.evolve(_delivery_state(row))
        cur.execute(
            f"UPDATE {DELIVERIES} SET status = %s, attempts = %s, last_error = %s,"
            " next_attempt_at = %s, delivered_at = %s, updated_at = %s WHERE id = %s",
            (state.status, state.attempts, state.last_error,
             iso_timestamp(state.next_attempt_at), iso_timestamp(state.delivered_at),
             iso_timestamp(event.timestamp), str(event.originator_id)))


def _endpoint_state(row: Row) -> WebhookState:
    return WebhookState(id=UUID(row["uuid"]), tenant=row["tenant"], url=row["url"],
                        event_types=tuple(json.loads(row["event_types"])),
                        revision=row["version"], deleted=row["status"] == "deleted")


def _delivery_state(row: Row) -> DeliveryState:
    return DeliveryState(id=UUID(row["id"]), tenant=row["tenant"],
                         endpoint=UUID(row["endpoint"]), status=row["status"],
                         attempts=row["attempts"], last_error=row["last_error"],
                         next_attempt_at=parse_timestamp(row["next_attempt_at"]),
                         delivered_at=parse_timestamp(row["delivered_at"]))


def _delivery(row: Row) -> DeliveryRow:
    return DeliveryRow(id=UUID(row["id"]), tenant=row["tenant"], endpoint=UUID(row["endpoint"]),
                       resource=UUID(row["resource"]), version=row["version"],
                       position=int(row["position"]), status=row["status"],
                       attempts=row["attempts"], last_error=row["last_error"],
                       next_attempt_at=row["next_attempt_at"], created_at=row["created_at"],
                       updated_at=row["updated_at"], delivered_at=row["delivered_at"])


class WebhookQueries:
    """Reads of the endpoints and the outbox."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def endpoints(self, tenant: str) -> list[WebhookState]:
        """The tenant's live endpoints, oldest first."""
        with self.db.read() as cur:
            rows = cur.all(f"SELECT * FROM {ENDPOINTS} WHERE tenant = %s AND status = 'active'"
                           " ORDER BY created_at, webhook_id", (tenant,))
        return [_endpoint_full(row) for row in rows]

    def endpoint(self, tenant: str, uuid: UUID) -> WebhookState | None:
        """One live endpoint of the tenant, or ``None``."""
        with self.db.read() as cur:
            row = cur.one(f"SELECT * FROM {ENDPOINTS} WHERE uuid = %s AND tenant = %s"
                          " AND status = 'active'", (str(uuid), tenant))
        return None if row is None else _endpoint_full(row)

    def tenant_of(self, uuid: UUID) -> str | None:
        """The tenant of an endpoint, whoever asks."""
        with self.db.read() as cur:
            row = cur.one(f"SELECT tenant FROM {ENDPOINTS} WHERE uuid = %s", (str(uuid),))
        return None if row is None else str(row["tenant"])

    def deliveries(self, tenant: str, endpoint: UUID, limit: int) -> list[DeliveryRow]:
        """The endpoint's delivery log, newest change first."""
        with self.db.read() as cur:
            rows = cur.all(f"SELECT * FROM {DELIVERIES} WHERE endpoint = %s AND tenant = %s"
                           " ORDER BY position DESC LIMIT %s", (str(endpoint), tenant, limit))
        return [_delivery(row) for row in rows]

    def history(self, tenant: str, uuid: UUID) -> list[Revision]:
        """Every revision of an endpoint of the tenant (deleted ones too), newest first."""
        return VERSIONS.history(self.db, tenant, uuid)

    def due(self, now: datetime, limit: int) -> list[DeliveryRow]:
        """Deliveries of any tenant to attempt now, in commit order."""
        with self.db.read() as cur:
            rows = cur.all(
                f"SELECT * FROM {DELIVERIES} WHERE status IN ('pending', 'retrying', 'sending')"
                " AND next_attempt_at <= %s ORDER BY position LIMIT %s",
                (iso_timestamp(now), limit))
        return [_delivery(row) for row in rows]


def _endpoint_full(row: Row) -> WebhookState:
    return WebhookState(id=UUID(row["uuid"]), tenant=row["tenant"], url=row["url"],
                        event_types=tuple(json.loads(row["event_types"])),
                        revision=row["version"], created_at=parse_timestamp(row["created_at"]),
                        created_by=row["created_by"])
