"""The sync-job read model: one row per job with its whole state, for the job routes, the
workers looking for queued jobs and the reaper looking for silent ones.

Erasing a connector drops its jobs' rows (its queue records the erase, in plain); the jobs'
own events read back redacted and change nothing, so a rebuild gives the same.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from domain.common import iso_timestamp, parse_timestamp
from domain.sync.job import SyncJob, SyncJobRedacted, SyncQueueErased
from domain.sync.state import Progress, SyncJobState
from projections.db import Cursor, Database, Row

JOBS = "registry_sync_jobs"


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
        checkpoint=data.get("checkpoint"), error=data["error"],
        version=data["version"])


class SyncJobProjection:
    """Applies job events to the jobs table."""

    name = "sync_jobs"
    version = 1
    tables: tuple[str, ...] = (JOBS,)

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {JOBS} ("
            " uuid TEXT PRIMARY KEY, tenant TEXT NOT NULL, connector_uuid TEXT,"
            " job_id TEXT NOT NULL, status TEXT NOT NULL, heartbeat_at TEXT, state TEXT)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {JOBS}_by_connector"
                    f" ON {JOBS} (tenant, connector_uuid, job_id)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {JOBS}_by_status ON {JOBS} (status, job_id)")

    def apply(self, cur: Cursor, event: object) -> None:
        if isinstance(event, SyncQueueErased):  # the jobs' keys are gone: so are their rows
            cur.execute(f"DELETE FROM {JOBS} WHERE connector_uuid = %s",
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
            " state) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (uuid) DO UPDATE SET"
            " status = excluded.status, heartbeat_at = excluded.heartbeat_at,"
            " state = excluded.state",
            (str(after.id), after.tenant, str(after.connector_id), after.job_id, after.status,
             iso_timestamp(after.heartbeat_at), dump_state(after)))


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


def _state(row: Row) -> SyncJobState:
    return load_state(UUID(row["uuid"]), row["tenant"], row["state"])
