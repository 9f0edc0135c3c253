"""The SyncJob aggregate and each connector's SyncQueue.

A job is queued by a caller, claimed by exactly one worker (the claim is an event appended at
the job's next version, so of two racing workers the event store accepts one), reports
progress (each report is also the worker's heartbeat) and ends succeeded, failed or
cancelled. A job whose worker stops beating is requeued, or failed after its last attempt.

A connector's queue records every job it ever had (so erasing the connector finds them all)
and which one is active: at most one job per connector is queued or running at a time,
decided by the queue's own optimistic concurrency like connector names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.common import Actor, Redacted
from domain.sync.errors import (
    SyncInProgressError,
    SyncJobFinishedError,
    SyncJobNotRunningError,
)
from domain.sync.ids import encode_job_id, sync_queue_uuid
from domain.sync.state import (
    CANCELLED,
    FAILED,
    MAX_ERRORS,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Progress,
    SyncJobState,
)

MAX_LOG_LINES = 200
MAX_LOG_CHARS = 1000
WORKER_LOST = "its worker stopped answering"
NO_CHECKPOINT: Any = object()
"""``report``'s default: the script did not checkpoint since the last report."""


class SyncJob(Aggregate):
    """One run of a connector's collector script."""

    def __init__(self) -> None:
        self.state = SyncJobState(id=self.id)

    class Event(Aggregate.Event):
        """Base of the job's events: encrypted with the job's own key (they may hold log
        lines and error messages), destroyed when its connector is erased."""

        tenant: str
        shredded: ClassVar[bool] = True

        def apply(self, aggregate: Any) -> None:
            aggregate.state = self.evolve(aggregate.state)

        def evolve(self, state: SyncJobState) -> SyncJobState:
            """The state after this event (the aggregate and the read model share it)."""
            return dataclasses.replace(self.change(state), tenant=self.tenant,
                                       version=self.originator_version)

        def change(self, state: SyncJobState) -> SyncJobState:
            return state

    class Queued(Event, Aggregate.Created):
        connector_id: UUID
        requested_by: str
        script_version: str | None
        full: bool

        def change(self, state: SyncJobState) -> SyncJobState:
            return dataclasses.replace(
                state, connector_id=self.connector_id, requested_by=self.requested_by,
                script_version=self.script_version, full=self.full, status=QUEUED,
                queued_at=self.timestamp)

    class Started(Event):
        worker: str

        def change(self, state: SyncJobState) -> SyncJobState:
            return dataclasses.replace(
                state, status=RUNNING, worker=self.worker, attempt=state.attempt + 1,
                started_at=state.started_at or self.timestamp, heartbeat_at=self.timestamp)

    class Progressed(Event):
        collected: int
        parsed: int
        indexed: int
        invalid: int
        drift: dict[str, int]
        errors: list[str]
        log: list[str]
        checkpointed: bool
        checkpoint: Any
        requests: int
        request_ms: float

        def change(self, state: SyncJobState) -> SyncJobState:
            if self.checkpointed:
                state = dataclasses.replace(state, checkpoint=self.checkpoint)
            if self.requests:
                state = dataclasses.replace(state, requests=state.requests + self.requests,
                                            request_ms=state.request_ms + self.request_ms)
            drift = dict(state.drift)
            for name, seen in self.drift.items():
                drift[name] = drift.get(name, 0) + seen
            delta = Progress(self.collected, self.parsed, self.indexed, self.invalid)
            return dataclasses.replace(
                state, progress=state.progress.plus(delta), drift=drift,
                errors=(*state.errors, *self.errors)[:MAX_ERRORS],
                log=(*state.log, *self.log)[-MAX_LOG_LINES:], heartbeat_at=self.timestamp)

    class Succeeded(Event):
        def change(self, state: SyncJobState) -> SyncJobState:
            return dataclasses.replace(state, status=SUCCEEDED, finished_at=self.timestamp,
                                       heartbeat_at=None)

    class Failed(Event):
        error: str

        def change(self, state: SyncJobState) -> SyncJobState:
            return dataclasses.replace(state, status=FAILED, error=self.error,
                                       finished_at=self.timestamp, heartbeat_at=None)

    class Cancelled(Event):
        by: str

        def change(self, state: SyncJobState) -> SyncJobState:
            return dataclasses.replace(state, status=CANCELLED, finished_at=self.timestamp,
                                       error=f"cancelled by {self.by}", heartbeat_at=None)

    class Requeued(Event):
        reason: str

        def change(self, state: SyncJobState) -> SyncJobState:
            return dataclasses.replace(state, status=QUEUED, worker=None, heartbeat_at=None,
                                       log=(*state.log, f"requeued: {self.reason}")
                                       [-MAX_LOG_LINES:])

    @classmethod
    def queue(cls, actor: Actor, job_id: UUID, connector_id: UUID,
              script_version: str | None, *, full: bool = True) -> SyncJob:
        """A new job for a connector, waiting for a worker."""
        return cls._create(cls.Queued, id=job_id, tenant=actor.tenant,
                           connector_id=connector_id, requested_by=actor.name,
                           script_version=script_version, full=full)

    def start(self, worker: str) -> None:
        """``worker`` claims the job; saving this is what makes the claim exclusive."""
        if self.state.status != QUEUED:
            raise SyncJobFinishedError(f"job {self.state.job_id} is {self.state.status}")
        self._trigger(self.Started, worker=worker)

    def report(self, worker: str, delta: Progress, *, drift: Mapping[str, int] | None = None,
               errors: Sequence[str] = (), log: Sequence[str] = (),
               checkpoint: Any = NO_CHECKPOINT, requests: int = 0,
               request_ms: float = 0.0) -> None:
        """Progress since the last report (also the worker's heartbeat); ``checkpoint`` is
        where the script said the next sync should start, when it said so; ``requests``
        and ``request_ms`` count the script's HTTP requests and their time."""
        self._running_for(worker)
        room = max(0, MAX_ERRORS - len(self.state.errors))
        self._trigger(self.Progressed, collected=delta.collected, parsed=delta.parsed,
                      indexed=delta.indexed, invalid=delta.invalid, drift=dict(drift or {}),
                      errors=list(errors)[:room],
                      log=[line[:MAX_LOG_CHARS] for line in log][-MAX_LOG_LINES:],
                      checkpointed=checkpoint is not NO_CHECKPOINT,
                      checkpoint=None if checkpoint is NO_CHECKPOINT else checkpoint,
                      requests=requests, request_ms=round(request_ms, 3))

    def succeed(self, worker: str) -> None:
        self._running_for(worker)
        self._trigger(self.Succeeded)

    def fail(self, worker: str, error: str) -> None:
        self._running_for(worker)
        self._trigger(self.Failed, error=error[:2000])

    def cancel(self, actor: Actor) -> None:
        """Stop a queued or running job; its worker notices at its next report."""
        if self.state.finished:
            raise SyncJobFinishedError(f"job {self.state.job_id} already {self.state.status}")
        self._trigger(self.Cancelled, by=actor.name)

    def reap(self, now: datetime, timeout: timedelta, max_attempts: int) -> bool:
        """Requeue (or fail, after ``max_attempts``) a running job whose worker has not
        beaten since ``now - timeout``. False when the job is fine."""
        state = self.state
        if state.status != RUNNING or state.heartbeat_at is None:
            return False
        if state.heartbeat_at > now - timeout:
            return False
        if state.attempt >= max_attempts:
            self._trigger(self.Failed, error=f"{WORKER_LOST} ({state.attempt} attempt(s))")
        else:
            self._trigger(self.Requeued, reason=WORKER_LOST)
        return True

    def _running_for(self, worker: str) -> None:
        if self.state.status != RUNNING or self.state.worker != worker:
            raise SyncJobNotRunningError(
                f"job {self.state.job_id} is {self.state.status}, not running for {worker}")

    def _trigger(self, event_class: type[SyncJob.Event], **kwargs: Any) -> None:
        self.trigger_event(event_class, tenant=self.state.tenant, **kwargs)


class SyncJobRedacted(Redacted):
    """Stands in for a job event whose key was destroyed by its connector's erase."""


SyncJobRedacted.restores = (SyncJob, SyncJobState)
SyncJob.Event.redacted_class = SyncJobRedacted  # type: ignore[attr-defined]


class SyncQueue(Aggregate):
    """A connector's jobs: all of them, and the one queued or running, if any."""

    def __init__(self) -> None:
        self.tenant = ""
        self.connector_id: UUID | None = None
        self.jobs: tuple[UUID, ...] = ()
        self.active: UUID | None = None

    class Event(Aggregate.Event):
        """Ids only, nothing to erase: not shredded."""

        tenant: str
        connector_id: UUID
        job_id: UUID
        shredded: ClassVar[bool] = False

    class Opened(Event, Aggregate.Created):
        def apply(self, aggregate: Any) -> None:
            aggregate.tenant, aggregate.connector_id = self.tenant, self.connector_id
            aggregate.jobs, aggregate.active = (self.job_id,), self.job_id

    class Entered(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.jobs = (*aggregate.jobs, self.job_id)
            aggregate.active = self.job_id

    class Left(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.active = None

    @classmethod
    def open(cls, tenant: str, connector_id: UUID, job_id: UUID) -> SyncQueue:
        return cls._create(cls.Opened, id=sync_queue_uuid(connector_id), tenant=tenant,
                           connector_id=connector_id, job_id=job_id)

    def enter(self, job_id: UUID) -> None:
        """``job_id`` becomes the active job; refused while another one is."""
        if self.active is not None:
            raise SyncInProgressError(encode_job_id(self.active))
        assert self.connector_id is not None
        self.trigger_event(self.Entered, tenant=self.tenant, connector_id=self.connector_id,
                           job_id=job_id)

    def leave(self, job_id: UUID) -> bool:
        """The active job finished; False (nothing recorded) when it is not the active one."""
        if self.active != job_id:
            return False
        assert self.connector_id is not None
        self.trigger_event(self.Left, tenant=self.tenant, connector_id=self.connector_id,
                           job_id=job_id)
        return True


    def erase(self) -> None:
        """Record that the connector's erase destroys every job's key (read models drop the
        jobs)."""
        assert self.connector_id is not None
        self.trigger_event(SyncQueueErased, tenant=self.tenant, connector_id=self.connector_id)


class SyncQueueErased(Aggregate.Event):
    """A connector's erase destroyed its jobs' keys. Not shredded (it names no content).
    Defined outside :class:`SyncQueue`, whose nested events all carry a job id."""

    tenant: str
    connector_id: UUID
    shredded: ClassVar[bool] = False

    def apply(self, aggregate: Any) -> None:
        aggregate.active = None


def enter_queue(queue: SyncQueue | None, tenant: str, connector_id: UUID,
                job_id: UUID) -> SyncQueue:
    """The queue to save with a new job (opened on a connector's first job)."""
    if queue is None:
        return SyncQueue.open(tenant, connector_id, job_id)
    queue.enter(job_id)
    return queue
