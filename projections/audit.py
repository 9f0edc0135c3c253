"""Read model of the audit trail, newest first, filterable by actor and schema id."""

from __future__ import annotations

import json
from typing import Any

from domain.audit import AuditRecord
from domain.common import iso_timestamp
from projections.db import Cursor, Database, Row

FIELDS = (
    "id", "recorded_at", "tenant", "authenticated", "subject", "email", "app_id", "method",
    "route", "schema_id", "status", "outcome", "detail",
)


class AuditProjection:
    """Applies audit records to ``registry_audit``."""

    name = "audit"
    version = 3
    tables: tuple[str, ...] = ("registry_audit",)

    def create_tables(self, cur: Cursor) -> None:
        """Create the audit table if it does not exist."""
        cur.execute(
            "CREATE TABLE IF NOT EXISTS registry_audit ("
            " id TEXT PRIMARY KEY, recorded_at TEXT NOT NULL, tenant TEXT NOT NULL,"
            " authenticated INTEGER NOT NULL, subject TEXT, email TEXT, app_id TEXT,"
            " method TEXT NOT NULL, route TEXT NOT NULL, schema_id TEXT,"
            " status INTEGER NOT NULL, outcome TEXT NOT NULL, detail TEXT)"
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS registry_audit_by_tenant"
            " ON registry_audit (tenant, recorded_at, id)"
        )

    def apply(self, cur: Cursor, event: object) -> None:
        """Project one audit record."""
        if not isinstance(event, AuditRecord.Recorded):
            return
        values = (
            str(event.originator_id), iso_timestamp(event.timestamp), event.tenant,
            int(event.authenticated), event.subject, event.email, event.app_id, event.method,
            event.route, event.schema_id, event.status, event.outcome,
            None if event.detail is None else json.dumps(event.detail, sort_keys=True),
        )
        cur.execute(
            f"INSERT INTO registry_audit ({', '.join(FIELDS)})"
            f" VALUES ({', '.join(['%s'] * len(FIELDS))}) ON CONFLICT (id) DO NOTHING",
            values,
        )


class AuditQueries:
    """Reads of the audit trail, always scoped to one tenant."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(
        self,
        tenant: str,
        *,
        actor: str | None,
        schema_id: str | None,
        before: tuple[str, str] | None,
        limit: int,
    ) -> list[Row]:
        """Rows newest first, older than ``before`` (time, id), at most ``limit``."""
        sql = "SELECT * FROM registry_audit WHERE tenant = %s"
        params: list[Any] = [tenant]
        if actor is not None:
            sql += " AND (subject = %s OR email = %s)"
            params += [actor, actor]
        if schema_id is not None:
            sql += " AND schema_id = %s"
            params.append(schema_id)
        if before is not None:
            sql += " AND (recorded_at < %s OR (recorded_at = %s AND id < %s))"
            params += [before[0], before[0], before[1]]
        sql += " ORDER BY recorded_at DESC, id DESC LIMIT %s"
        params.append(limit)
        with self.db.read() as cur:
            return cur.all(sql, params)
