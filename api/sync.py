"""Sync-job routes of a universal connector (seed 004's ``sync``): parse → command or
query → respond. No business rules here.

Requesting and cancelling follow the connector's change rule (owner or admin); reading jobs
its read rule. A job answers its progress while it runs; never a record value.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.params import PathParameter, QueryParameter

from api.access import EDITORS, READERS, allow
from api.bodies import connector_uuid_param, decode_id_cursor, pack_cursor, split_page
from api.models import Base
from api.openapi import problems
from api.params import INTERNAL, SYNC_CURSOR, ConnectorPathId, Limit
from api.params import Caller as CallerParam
from api.runtime import run
from domain.common import iso_timestamp
from domain.connectors.ids import encode_connector_id
from domain.sync.errors import SyncJobNotFoundError
from domain.sync.ids import JOB_ID_PREFIX, decode_job_id
from domain.sync.state import SyncJobState
from registry.sync import JOB_NOT_FOUND

BASE = f"{INTERNAL}/connectors/{{id:str}}/sync"
JobId = Annotated[str, PathParameter(
    description="Job id: `job_` + 26 Crockford base32 characters, or its UUID; anything else"
                " answers 404", schema_extra={"maxLength": 40})]
Full = Annotated[bool, QueryParameter(
    description="true (default): a full sync; records the run does not yield again are"
                " forgotten when it succeeds. false: an incremental sync from the connector's"
                " last checkpoint; nothing is forgotten.")]
JobCursor = Annotated[str | None, QueryParameter(
    description="The `nextCursor` of the previous page of this list (opaque); any other"
                " value answers 422", schema_extra={"format": SYNC_CURSOR})]


class Drift(Base):
    """A record field the schema does not have, and how many records carried it."""

    field: str
    seen: int


class JobProgress(Base):
    """Records yielded by the script, valid ones, stored ones, invalid ones."""

    collected: int
    parsed: int
    indexed: int
    invalid: int


class SyncJobOut(Base):
    """A sync job (seed 004's shape and more)."""

    job_id: str
    connector_id: str
    status: str
    full: bool
    script_version: str | None
    progress: JobProgress
    started_at: str | None
    running_since: str | None
    finished_at: str | None
    heartbeat_at: str | None
    requested_by: str | None
    attempt: int
    error: str | None
    errors: list[str]
    drift: list[Drift]
    log: list[str]
    requests: int


class SyncJobList(Base):
    """A connector's jobs, newest first."""

    jobs: list[SyncJobOut]
    next_cursor: str | None


class SyncQueued(Base):
    """The answer to a sync request (seed 004)."""

    job_id: str
    status: str
    started_at: str | None


def job_out(state: SyncJobState, connector_id: str) -> SyncJobOut:
    drift = [Drift(field=name, seen=seen) for name, seen in sorted(state.drift.items())]
    progress = state.progress
    return SyncJobOut(
        job_id=state.job_id, connector_id=connector_id, status=state.status, full=state.full,
        script_version=state.script_version,
        progress=JobProgress(collected=progress.collected, parsed=progress.parsed,
                             indexed=progress.indexed, invalid=progress.invalid),
        started_at=iso_timestamp(state.queued_at),
        running_since=iso_timestamp(state.started_at),
        finished_at=iso_timestamp(state.finished_at),
        heartbeat_at=iso_timestamp(state.heartbeat_at), requested_by=state.requested_by,
        attempt=state.attempt, error=state.error, errors=list(state.errors), drift=drift,
        log=list(state.log), requests=state.requests)


def _job_uuid(text: str) -> UUID:
    value = decode_job_id(text)
    if value is None:
        raise SyncJobNotFoundError(JOB_NOT_FOUND)
    return value


class SyncJobController(Controller):
    """``/connectors/{id}/sync``: request, list, read, cancel."""

    path = BASE
    tags = ("sync jobs",)

    @post("/", status_code=202, responses=problems(401, 403, 404, 409, 410, 422),
          summary="Sync a connector", opt=allow(EDITORS))
    async def request_sync(self, caller: CallerParam, id: ConnectorPathId,
                           full: Full = True) -> Response[SyncQueued]:
        """Queue a run of the connector's default script version; a worker picks it up.
        409 ``sync-in-progress`` while another job of the connector is queued or running."""
        job = await run(caller.registry.app.request_sync, caller.access,
                        connector_uuid_param(id), full=full)
        location = f"{INTERNAL}/connectors/{id}/sync/{job.job_id}"
        return Response(SyncQueued(job_id=job.job_id, status=job.status,
                                   started_at=iso_timestamp(job.queued_at)),
                        status_code=202, headers={"Location": location})

    @get("/", responses=problems(401, 403, 404, 410, 422), summary="List a connector's sync"
         " jobs", opt=allow(READERS))
    async def list_jobs(self, caller: CallerParam, id: ConnectorPathId, limit: Limit = 50,
                        cursor: JobCursor = None) -> SyncJobList:
        """The connector's jobs, newest first, paged."""
        uuid = connector_uuid_param(id)
        before = decode_id_cursor(cursor, "sync", JOB_ID_PREFIX, decode_job_id)
        states = await run(caller.registry.app.sync_jobs_of, caller.access, uuid,
                           before=before, limit=limit + 1)
        page, next_cursor = split_page(states, limit,
                                       lambda s: pack_cursor("sync", s.job_id))
        return SyncJobList(jobs=[job_out(s, encode_connector_id(uuid)) for s in page],
                           next_cursor=next_cursor)

    @get("/{job_id:str}", responses=problems(401, 403, 404, 410),
         summary="Get a sync job", opt=allow(READERS))
    async def get_job(self, caller: CallerParam, id: ConnectorPathId,
                      job_id: JobId) -> SyncJobOut:
        """Where the job is: status, progress while it runs, how it ended, drift."""
        uuid = connector_uuid_param(id)
        state = await run(caller.registry.app.sync_job, caller.access, uuid,
                          _job_uuid(job_id))
        return job_out(state, encode_connector_id(uuid))

    @delete("/{job_id:str}", status_code=200, responses=problems(401, 403, 404, 409, 410),
            summary="Cancel a sync job", opt=allow(EDITORS))
    async def cancel_job(self, caller: CallerParam, id: ConnectorPathId,
                         job_id: JobId) -> SyncJobOut:
        """Cancel a queued or running job (a running one stops at its next report; what it
        stored stays); 409 ``sync-job-finished`` once it ended."""
        uuid = connector_uuid_param(id)
        state = await run(caller.registry.app.cancel_sync, caller.access, uuid,
                          _job_uuid(job_id))
        return job_out(state, encode_connector_id(uuid))
