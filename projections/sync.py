"""The sync-job read model: one row per job with its whole state, for the job routes, the
workers looking for queued jobs and the reaper looking for silent ones.

Erasing a connector drops its jobs' rows (its queue records the erase, in plain); the jobs'
own events read back redacted and change nothing, so a rebuild gives the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.common import iso_timestamp, parse_timestamp
from domain.sync.job import SyncJob, SyncJobRedacted, SyncQueueErased
from domain.sync.state import Progress, SyncJobState
from projections.db import Cursor, Database, Row

JOBS = "registry_sync_jobs"
HEALTH = "registry_connector_sync"
"""Per connector: what its jobs say of its sync health (seed 001's syncStatus, lastSyncAt,
consecutiveErrors, lastError and metrics)."""


def dump_state(state: SyncJobState) -> str:
    """The job's state as the JSON its row holds."""
    return json.dumps({
        "connector_id": str(state.connector_id) if state.connector_id else None,
        "requested_by": state.requested_by, "script_version": state.script_version,
        "full": state.full, "status": state.status, "queued_at": iso_timestamp(state.queued_at),
        "started_at": iso_timestamp(state.started_at),
        "finished_at": iso_timestamp(state.finished_at),
        "heartbeat_at": iso_timestamp(state.heartbeat_at), "worker": state.worker,
        "attempt": state.attempt, "progress": state.progress.to_document(),
        "drift": dict(state.drift), "errors": list(state.errors), "log": list(state.log),
        "requests": state.requests, "request_ms": state.request_ms,
        "checkpoint": state.checkpoint, "error": state.error, "version": state.version,
    }, separators=(",", ":"))


def load_state(uuid: UUID, tenant: str, text: str) -> SyncJobState:
    """The inverse of :func:`dump_state`."""
    data: dict[str, Any] = json.loads(text)
    return SyncJobState(
        id=uuid, tenant=tenant,
        connector_id=UUID(data["connector_id"]) if data["connector_id"] else None,
        requested_by=data["requested_by"], script_version=data["script_version"],
        full=data["full"], status=data["status"], queued_at=parse_timestamp(data["queued_at"]),
        started_at=parse_timestamp(data["started_at"]),
        finished_at=parse_timestamp(data["finished_at"]),
        heartbeat_at=parse_timestamp(data["heartbeat_at"]), worker=data["worker"],
        attempt=data["attempt"], progress=Progress(**data["progress"]), drift=data["drift"],
        errors=tuple(data["errors"]), log=tuple(data["log"]),
        requests=data.get("requests", 0), request_ms=data.get("request_ms", 0.0),
        checkpoint=data.get("checkpoint"), error=data["error"],
        version=data["version"])


class SyncJobProjection:
    """Applies job events to the jobs table."""

    name = "sync_jobs"
    version = 2
    tables: tuple[str, ...] = (JOBS, HEALTH)

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {JOBS} ("
            " uuid TEXT PRIMARY KEY, tenant TEXT NOT NULL, connector_uuid TEXT,"
            " job_id TEXT NOT NULL, status TEXT NOT NULL, heartbeat_at TEXT,"
            " finished_at TEXT, indexed INTEGER NOT NULL DEFAULT 0, state TEXT)")
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {HEALTH} ("
            " connector_uuid TEXT PRIMARY KEY, sync_status TEXT NOT NULL, last_sync_at TEXT,"
            " consecutive_errors INTEGER NOT NULL, last_error TEXT,"
            " total_synced INTEGER NOT NULL, requests INTEGER NOT NULL,"
            " request_ms DOUBLE PRECISION NOT NULL)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {JOBS}_by_connector"
                    f" ON {JOBS} (tenant, connector_uuid, job_id)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {JOBS}_by_status ON {JOBS} (status, job_id)")

    def apply(self, cur: Cursor, event: object) -> None:
        if isinstance(event, SyncQueueErased):  # the jobs' keys are gone: so are their rows
            for table in (JOBS, HEALTH):
                cur.execute(f"DELETE FROM {table} WHERE connector_uuid = %s",
                            (str(event.connector_id),))
            return
        if isinstance(event, SyncJobRedacted) or not isinstance(event, SyncJob.Event):
            return
        row = cur.one(f"SELECT * FROM {JOBS} WHERE uuid = %s", (str(event.originator_id),))
        before = (load_state(event.originator_id, row["tenant"], row["state"])
                  if row and row["state"] else SyncJobState(id=event.originator_id))
        after = event.evolve(before)
        cur.execute(
            f"INSERT INTO {JOBS} (uuid, tenant, connector_uuid, job_id, status, heartbeat_at,"
            " finished_at, indexed, state) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (uuid) DO UPDATE SET status = excluded.status,"
            " heartbeat_at = excluded.heartbeat_at, finished_at = excluded.finished_at,"
            " indexed = excluded.indexed, state = excluded.state",
            (str(after.id), after.tenant, str(after.connector_id), after.job_id, after.status,
             iso_timestamp(after.heartbeat_at), iso_timestamp(after.finished_at),
             after.progress.indexed, dump_state(after)))
        self._health(cur, event, before, after)

    def _health(self, cur: Cursor, event: SyncJob.Event, before: SyncJobState,
                after: SyncJobState) -> None:
        """The connector's sync health after one of its jobs' events."""
        key = str(after.connector_id)
        row = cur.one(f"SELECT * FROM {HEALTH} WHERE connector_uuid = %s", (key,))
        health: dict[str, Any] = dict(row) if row else {
            "connector_uuid": key, "sync_status": "idle", "last_sync_at": None,
            "consecutive_errors": 0, "last_error": None, "total_synced": 0, "requests": 0,
            "request_ms": 0.0}
        health["requests"] += after.requests - before.requests
        health["request_ms"] += after.request_ms - before.request_ms
        if isinstance(event, SyncJob.Queued | SyncJob.Requeued):
            health["sync_status"] = "queued"
        elif isinstance(event, SyncJob.Started):
            health["sync_status"] = "running"
        elif isinstance(event, SyncJob.Succeeded):
            health.update(sync_status="idle", last_sync_at=iso_timestamp(after.finished_at),
                          consecutive_errors=0, last_error=None,
                          total_synced=health["total_synced"] + after.progress.indexed)
        elif isinstance(event, SyncJob.Failed):
            health.update(sync_status="error", last_sync_at=iso_timestamp(after.finished_at),
                          consecutive_errors=health["consecutive_errors"] + 1,
                          last_error=after.error)
        elif isinstance(event, SyncJob.Cancelled):
            health["sync_status"] = "error" if health["consecutive_errors"] else "idle"
        cur.execute(
            f"INSERT INTO {HEALTH} (connector_uuid, sync_status, last_sync_at,"
            " consecutive_errors, last_error, total_synced, requests, request_ms)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (connector_uuid) DO UPDATE SET"
            " sync_status = excluded.sync_status, last_sync_at = excluded.last_sync_at,"
            " consecutive_errors = excluded.consecutive_errors,"
            " last_error = excluded.last_error, total_synced = excluded.total_synced,"
            " requests = excluded.requests, request_ms = excluded.request_ms",
            (key, health["sync_status"], health["last_sync_at"], health["consecutive_errors"],
             health["last_error"], health["total_synced"], health["requests"],
             health["request_ms"]))


class SyncJobQueries:
    """Reads of the jobs table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, tenant: str, connector: UUID, uuid: UUID) -> SyncJobState | None:
        """A job of a connector of the tenant (``None`` when unknown, another's or erased)."""
        row = self.db.one(f"SELECT * FROM {JOBS} WHERE uuid = %s AND tenant = %s"
                          " AND connector_uuid = %s AND state IS NOT NULL",
                          (str(uuid), tenant, str(connector)))
        return None if row is None else _state(row)

    def page(self, tenant: str, connector: UUID, *, before: str | None, limit: int
             ) -> list[SyncJobState]:
        """A connector's jobs, newest first, older than the ``before`` id."""
        sql = (f"SELECT * FROM {JOBS} WHERE tenant = %s AND connector_uuid = %s"
               " AND state IS NOT NULL")
        params: list[object] = [tenant, str(connector)]
        if before is not None:
            sql += " AND job_id < %s"
            params.append(before)
        with self.db.read() as cur:
            rows = cur.all(f"{sql} ORDER BY job_id DESC LIMIT %s", [*params, limit])
        return [_state(row) for row in rows]

    def health(self, connector: UUID, now: datetime) -> SyncHealth | None:
        """A connector's sync health as its jobs made it, or ``None`` before its first job;
        ``metrics.last24h`` counts what the jobs finished since ``now`` minus 24 hours
        stored."""
        row = self.db.one(f"SELECT * FROM {HEALTH} WHERE connector_uuid = %s",
                          (str(connector),))
        if row is None:
            return None
        recent = self.db.one(
            f"SELECT COALESCE(SUM(indexed), 0) AS n FROM {JOBS} WHERE connector_uuid = %s"
            " AND status = 'succeeded' AND finished_at >= %s",
            (str(connector), iso_timestamp(now - timedelta(hours=24))))
        requests = int(row["requests"])
        return SyncHealth(
            sync_status=row["sync_status"], last_sync_at=parse_timestamp(row["last_sync_at"]),
            consecutive_errors=int(row["consecutive_errors"]), last_error=row["last_error"],
            metrics={"totalSynced": int(row["total_synced"]),
                     "last24h": int(recent["n"]) if recent else 0,
                     "avgLatencyMs": (round(float(row["request_ms"]) / requests, 1)
                                      if requests else None)})

    def queued(self, limit: int = 10) -> list[UUID]:
        """Queued jobs of every tenant, oldest first."""
        with self.db.read() as cur:
            rows = cur.all(f"SELECT uuid FROM {JOBS} WHERE status = 'queued'"
                           " ORDER BY job_id LIMIT %s", (limit,))
        return [UUID(row["uuid"]) for row in rows]

    def running(self) -> list[UUID]:
        """Running jobs of every tenant (the reaper checks their heartbeats)."""
        with self.db.read() as cur:
            rows = cur.all(f"SELECT uuid FROM {JOBS} WHERE status = 'running' ORDER BY job_id")
        return [UUID(row["uuid"]) for row in rows]


@dataclass(frozen=True)
class SyncHealth:
    """What a connector's jobs say of its syncs (seed 001's fields)."""

    sync_status: str
    last_sync_at: datetime | None
    consecutive_errors: int
    last_error: str | None
    metrics: dict[str, Any]


def _state(row: Row) -> SyncJobState:
    return load_state(UUID(row["uuid"]), row["tenant"], row["state"])
