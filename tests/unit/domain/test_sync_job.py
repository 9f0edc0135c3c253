"""The sync job's life and the connector's queue, as pure domain objects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.common import Actor
from domain.sync.errors import (
    SyncInProgressError,
    SyncJobFinishedError,
    SyncJobNotRunningError,
)
from domain.sync.ids import decode_job_id, encode_job_id, sync_queue_uuid
from domain.sync.job import WORKER_LOST, SyncJob, SyncQueue, enter_queue
from domain.sync.state import MAX_ERRORS, Progress

ALICE = Actor("alice", "acme", "alice@example.com")
CONNECTOR = uuid.uuid4()
TIMEOUT = timedelta(seconds=30)


def queued() -> SyncJob:
    return SyncJob.queue(ALICE, uuid.uuid4(), CONNECTOR, "default")


def test_a_job_runs_reports_progress_and_succeeds() -> None:
    job = queued()
    assert job.state.status == "queued" and job.state.requested_by == "alice@example.com"
    job.start("worker-1")
    assert job.state.status == "running" and job.state.attempt == 1
    job.report("worker-1", Progress(collected=10, parsed=9, indexed=9, invalid=1),
               drift={"department": 4}, errors=["record 3: /age: not an integer"],
               log=["page 1"])
    job.report("worker-1", Progress(collected=5, parsed=5, indexed=5),
               drift={"department": 2, "title": 1}, log=["page 2"])
    state = job.state
    assert state.progress == Progress(collected=15, parsed=14, indexed=14, invalid=1)
    assert state.drift == {"department": 6, "title": 1}
    assert state.errors == ("record 3: /age: not an integer",)
    assert state.log == ("page 1", "page 2")
    job.succeed("worker-1")
    assert job.state.status == "succeeded" and job.state.finished_at is not None
    assert job.state.version == 5 and job.state.tenant == "acme"


def test_only_the_worker_that_runs_it_reports() -> None:
    job = queued()
    with pytest.raises(SyncJobNotRunningError):
        job.report("worker-1", Progress(collected=1))
    job.start("worker-1")
    with pytest.raises(SyncJobFinishedError):
        job.start("worker-2")  # already claimed
    with pytest.raises(SyncJobNotRunningError):
        job.report("worker-2", Progress(collected=1))
    job.cancel(ALICE)
    assert job.state.status == "cancelled" and job.state.error == "cancelled by alice@example.com"
    with pytest.raises(SyncJobNotRunningError):  # the worker learns it lost the job
        job.report("worker-1", Progress(collected=1))
    with pytest.raises(SyncJobFinishedError):
        job.cancel(ALICE)


def test_errors_keep_the_first_ones_only() -> None:
    job = queued()
    job.start("w")
    job.report("w", Progress(invalid=15), errors=[f"e{n}" for n in range(15)])
    job.report("w", Progress(invalid=15), errors=[f"f{n}" for n in range(15)])
    assert len(job.state.errors) == MAX_ERRORS and job.state.errors[0] == "e0"
    assert job.state.progress.invalid == 30


def test_a_silent_worker_gets_its_job_requeued_then_failed() -> None:
    job = queued()
    job.start("w1")
    beat = job.state.heartbeat_at
    assert beat is not None
    assert job.reap(beat + TIMEOUT / 2, TIMEOUT, max_attempts=2) is False
    assert job.reap(beat + TIMEOUT, TIMEOUT, max_attempts=2) is True
    assert job.state.status == "queued" and job.state.worker is None
    assert job.state.log[-1] == f"requeued: {WORKER_LOST}"
    job.start("w2")
    assert job.state.attempt == 2
    later = datetime.now(UTC) + 2 * TIMEOUT
    assert job.reap(later, TIMEOUT, max_attempts=2) is True
    assert job.state.status == "failed" and WORKER_LOST in (job.state.error or "")
    assert job.reap(later, TIMEOUT, max_attempts=2) is False


def test_a_connector_has_at_most_one_active_job() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    queue = enter_queue(None, "acme", CONNECTOR, first)
    assert queue.id == sync_queue_uuid(CONNECTOR) and queue.active == first
    with pytest.raises(SyncInProgressError) as busy:
        queue.enter(second)
    assert busy.value.job_id == encode_job_id(first)
    assert queue.leave(second) is False
    assert queue.leave(first) is True and queue.active is None
    assert enter_queue(queue, "acme", CONNECTOR, second) is queue
    assert queue.jobs == (first, second) and queue.active == second
    assert isinstance(queue, SyncQueue)


def test_job_ids() -> None:
    job_id = uuid.uuid4()
    text = encode_job_id(job_id)
    assert text.startswith("job_") and len(text) == 30
    assert decode_job_id(text) == job_id == decode_job_id(str(job_id))
    assert decode_job_id("cnn_" + text[4:]) is None
