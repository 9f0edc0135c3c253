"""Sync jobs: queue, cancel and read them; workers claim them and run the connector's default
script in the sandbox, validating and storing what it yields.

Every change of a job is an event of its ``SyncJob`` aggregate; the connector's ``SyncQueue``
lets one job at a time be active. A worker's claim is the job's ``Started`` event: of two
workers claiming one job the event store accepts one. Each progress report is also the
worker's heartbeat; the reaper (run by every follower tick) requeues a job whose worker went
silent, or fails it after its last attempt.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

import httpx
from eventsourcing.application import AggregateNotFoundError
from ulid import ULID

from domain.common import Actor
from domain.errors import ConcurrentWriteError, RegistryError
from domain.records import RecordRules
from domain.scripts.versions import ScriptVersionNotFoundError, decode_version_id
from domain.sync.errors import (
    SyncJobFinishedError,
    SyncJobNotFoundError,
    SyncJobNotRunningError,
)
from domain.sync.ids import sync_queue_uuid
from domain.sync.job import NO_CHECKPOINT, SyncJob, SyncQueue, enter_queue
from domain.sync.state import Progress, SyncJobState
from projections.sync import SyncJobQueries
from registry.connection.guard import TargetGuard
from registry.connection.http import http_client
from registry.health import DatabaseUnavailableError
from registry.records import RecordStore, RecordWriter, Sealer, primary_key
from registry.sandbox import Checkpoint, Idle, LogLine, Records, ScriptFailedError
from registry.scripts import scripted
from registry.settings import ConnectionSettings

if TYPE_CHECKING:
    from domain.connectors.connector import Connector
    from domain.connectors.state import ConnectorState
    from domain.scripts.versions import ScriptVersions
    from projections.schemas import SchemaQueries
    from registry.connectors import Access
    from registry.sandbox import Sandbox

T = TypeVar("T")
log = logging.getLogger("registry")
SYNC_ACTOR = "registry:sync"
JOB_NOT_FOUND = "sync job not found"
STORE_BYTES = 2 * 1024 * 1024
"""A schema's sealed records are handed to the writer once this much of them is waiting
(about 20,000 small records: one statement and transaction, see
:class:`registry.records.RecordWriter`), at every progress report, and whenever the writer
is idle and at least :data:`STORE_MIN_BYTES` wait: the writes grow while the database is
the slower side and stay small (soon readable) while it is not."""
STORE_MIN_BYTES = 256 * 1024
REPORT_SECONDS = 1.0
HEARTBEAT_SECONDS = 10.0
"""A running job reports at least this often, progress or not: its worker's heartbeat."""
HEARTBEAT_TIMEOUT = timedelta(seconds=60)
MAX_ATTEMPTS = 2
HTTP_TIMEOUT = 30.0
MAX_HTTP_BODY = 8 * 1024 * 1024


class SyncCommands:
    """Sync-job commands; mixed into the application."""

    if TYPE_CHECKING:  # provided by the application this is mixed into
        repository: Any
        sync_jobs: SyncJobQueries
        schemas: SchemaQueries
        sandbox: Sandbox

        def _save(self, *aggregates: Any, **kwargs: Any) -> None: ...

        def _retrying(self, attempt: Callable[[], T]) -> T: ...

        def _changeable(self, access: Access, uuid: UUID, *,
                        deleted_ok: bool = False) -> Connector: ...

        def connector(self, access: Access, uuid: UUID) -> Connector: ...

        def _script_versions(self, connector_id: UUID) -> ScriptVersions | None: ...

    def request_sync(self, access: Access, uuid: UUID, *, full: bool = True) -> SyncJobState:
        """Queue a sync of a universal connector with its default script version; 409 while
        another of its jobs is queued or running."""

        def attempt() -> SyncJobState:
            connector = self._changeable(access, uuid)
            scripted(connector)
            versions = self._script_versions(connector.id)
            if versions is None or versions.state.default is None:
                raise ScriptVersionNotFoundError(
                    "the connector has no default script version to run; save one first")
            default = versions.state.find("default")
            job = SyncJob.queue(access.actor, ULID().to_uuid(), connector.id,
                                default.version_id, full=full)
            queue = enter_queue(self._sync_queue(connector.id), access.actor.tenant,
                                connector.id, job.id)
            self._save(job, queue)
            return job.state

        return self._retrying(attempt)

    def cancel_sync(self, access: Access, uuid: UUID, job_id: UUID) -> SyncJobState:
        """Cancel a queued or running job (409 once it finished)."""

        def attempt() -> SyncJobState:
            connector = self._changeable(access, uuid)
            job = self._job_of(connector.id, job_id)
            job.cancel(access.actor)
            queue = self._sync_queue(connector.id)
            left = [queue] if queue is not None and queue.leave(job.id) else []
            self._save(job, *left)
            return job.state

        return self._retrying(attempt)

    def sync_job(self, access: Access, uuid: UUID, job_id: UUID) -> SyncJobState:
        """A job of a connector the caller may see."""
        connector = self.connector(access, uuid)
        connector.visible_state()
        state = self.sync_jobs.get(access.actor.tenant, connector.id, job_id)
        if state is None:
            raise SyncJobNotFoundError(JOB_NOT_FOUND)
        return state

    def sync_jobs_of(self, access: Access, uuid: UUID, *, before: str | None,
                     limit: int) -> list[SyncJobState]:
        """A page of the jobs of a connector the caller may see, newest first."""
        connector = self.connector(access, uuid)
        connector.visible_state()
        return self.sync_jobs.page(access.actor.tenant, connector.id, before=before,
                                   limit=limit)

    def claim_sync(self, worker: str) -> SyncJob | None:
        """Start the oldest queued job this worker wins, or ``None`` when there is none."""
        for job_id in self.sync_jobs.queued():
            try:
                job = self.repository.get(job_id)
                job.start(worker)
                self._save(job)
            except (ConcurrentWriteError, SyncJobFinishedError, AggregateNotFoundError):
                continue  # another worker won it, or it was cancelled meanwhile
            return job  # type: ignore[no-any-return]
        return None

    def finish_sync(self, job: SyncJob, worker: str, error: str | None) -> None:
        """End a job (succeeded when ``error`` is None) and free its connector's queue."""

        def attempt() -> None:
            fresh: SyncJob = self.repository.get(job.id)
            if error is None:
                fresh.succeed(worker)
            else:
                fresh.fail(worker, error)
            assert fresh.state.connector_id is not None
            queue = self._sync_queue(fresh.state.connector_id)
            left = [queue] if queue is not None and queue.leave(fresh.id) else []
            self._save(fresh, *left)

        self._retrying(attempt)

    def reap_syncs(self, now: datetime, timeout: timedelta = HEARTBEAT_TIMEOUT,
                   max_attempts: int = MAX_ATTEMPTS) -> list[UUID]:
        """Requeue, or fail after ``max_attempts``, every running job whose worker has been
        silent for ``timeout``; answers the jobs reaped."""
        reaped = []
        for job_id in self.sync_jobs.running():
            try:
                job: SyncJob = self.repository.get(job_id)
                if not job.reap(now, timeout, max_attempts):
                    continue
                queue = None
                if job.state.finished and job.state.connector_id is not None:
                    queue = self._sync_queue(job.state.connector_id)
                left = [queue] if queue is not None and queue.leave(job.id) else []
                self._save(job, *left)
            except (ConcurrentWriteError, AggregateNotFoundError):
                continue  # it beat meanwhile, or another reaper won
            reaped.append(job_id)
        if reaped:
            log.warning("requeued or failed %d sync job(s) whose worker went silent",
                        len(reaped))
        return reaped

    def _job_of(self, connector_id: UUID, job_id: UUID) -> SyncJob:
        try:
            job = self.repository.get(job_id)
        except AggregateNotFoundError:
            raise SyncJobNotFoundError(JOB_NOT_FOUND) from None
        if not isinstance(job, SyncJob) or job.state.connector_id != connector_id:
            raise SyncJobNotFoundError(JOB_NOT_FOUND)
        return job

    def _sync_queue(self, connector_id: UUID) -> SyncQueue | None:
        try:
            found = self.repository.get(sync_queue_uuid(connector_id))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, SyncQueue) else None


@dataclass
class _Target:
    """One schema a run writes into: its id, its record rules, what seals its records
    (``None`` once it was erased during the run), and its sealed records not yet handed to
    the writer."""

    schema: UUID
    rules: RecordRules
    sealer: Sealer | None
    staged: list[tuple[bytes, bytes]] = field(default_factory=list)
    staged_bytes: int = 0


@dataclass
class _Tally:
    """What a run collected since its last report (plain counters: one per record)."""

    collected: int = 0
    parsed: int = 0
    indexed: int = 0
    invalid: int = 0
    drift: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    checkpoint: Any = NO_CHECKPOINT

    @property
    def progress(self) -> Progress:
        return Progress(self.collected, self.parsed, self.indexed, self.invalid)

    def empty(self) -> bool:
        return (not (self.collected or self.parsed or self.indexed or self.invalid)
                and not self.drift and not self.errors and not self.log
                and self.checkpoint is NO_CHECKPOINT)


class SyncWorker:
    """Runs claimed jobs one at a time: the embedded worker of ``registry serve`` and the
    workers of ``registry worker`` are instances of this."""

    def __init__(self, app: Any, name: str | None = None,
                 outbound: ConnectionSettings | None = None) -> None:
        self.app = app
        self.name = name or f"worker-{uuid_module.uuid4().hex[:12]}"
        self.outbound = outbound or ConnectionSettings()
        """How scripts' requests leave: the address guard and trusted CAs of connection
        tests (``REGISTRY_ALLOW_PRIVATE_TARGETS``, ``REGISTRY_OUTBOUND_CA_FILE``)."""
        self.records = RecordStore(app.db)
        self._http: HostHttp | None = None

    def run_once(self) -> SyncJobState | None:
        """Claim one queued job and run it to its end; ``None`` when none was queued."""
        job = self.app.claim_sync(self.name)
        if job is None:
            return None
        error: str | None
        try:
            error = self._run(job)
        except SyncJobNotRunningError:
            return self.app.repository.get(job.id).state  # type: ignore[no-any-return]
        except Exception as failure:
            log.exception("sync job %s failed in the worker", job.state.job_id)
            error = f"the worker failed: {type(failure).__name__}"
        # Cancelled or reaped meanwhile: its end is already recorded.
        with contextlib.suppress(SyncJobNotRunningError, SyncJobFinishedError):
            self.app.finish_sync(job, self.name, error)
        return self.app.repository.get(job.id).state  # type: ignore[no-any-return]

    def _run(self, job: SyncJob) -> str | None:
        state = job.state
        assert state.connector_id is not None and state.script_version is not None
        access = _system_access(state.tenant)
        try:
            # OAuth tokens about to expire are refreshed before the run.
            connector, credentials = self.app.fresh_connector_credentials(
                access, state.connector_id, datetime.now(UTC))
        except RegistryError as refused:
            return f"the connector cannot be synced: {refused}"
        version = decode_version_id(state.script_version)
        script = self.app.script_text(state.connector_id, version) if version else None
        if script is None:
            return "the script version to run is gone"
        targets = self._targets(state.tenant, connector)
        context = {"config": dict(connector.config), "credentials": credentials or {},
                   "variables": script_variables(connector),
                   "state": self._checkpoint(state.tenant, connector.id, job.id)}
        http = HostHttp(allowed_hosts(connector), self.outbound)
        self._http = http
        tally = _Tally()
        reported = time.monotonic()
        with RecordWriter(self.records, job.id) as writer:
            try:
                for message in self.app.sandbox.run(script, context, on_http=http):
                    if isinstance(message, Records):
                        self._take(job, message.items, targets, tally, writer)
                    elif isinstance(message, LogLine):
                        tally.log.append(f"{message.level}: {message.message}")
                    elif isinstance(message, Checkpoint):
                        tally.checkpoint = message.state
                    waited = time.monotonic() - reported
                    # While the script waits (on a request, say), the writes catch up.
                    if waited >= REPORT_SECONDS and self._flush(
                            job, targets, tally, writer, force=waited >= HEARTBEAT_SECONDS,
                            settle=isinstance(message, Idle)):
                        reported = time.monotonic()
            except ScriptFailedError as failed:
                self._flush(job, targets, tally, writer, settle=True)
                return failed.reason
            finally:
                http.close()
            self._flush(job, targets, tally, writer, force=True, settle=True)
            if state.full:
                for target in targets.values():
                    self.records.forget_unseen(target.schema, job.id,
                                               seen=writer.stored_keys(target.schema))
        return None

    def _take(self, job: SyncJob, items: Sequence[tuple[str, dict[str, Any]]],
              targets: Mapping[str, _Target], tally: _Tally, writer: RecordWriter) -> None:
        """Count a run of yielded records; the valid ones are sealed and staged for their
        schema, and a full stage is handed to the writer. Records of one entity type in a
        row are checked together."""
        number = job.state.progress.collected + tally.collected + 1
        tally.collected += len(items)
        for entity, group in groupby(items, key=itemgetter(0)):
            records = [record for _, record in group]
            self._take_records(entity, records, number, targets.get(entity), tally, writer)
            number += len(records)

    def _take_records(self, entity: str, records: list[dict[str, Any]], first: int,
                      target: _Target | None, tally: _Tally, writer: RecordWriter) -> None:
        if target is None:
            tally.invalid += len(records)
            tally.errors.extend([f"{entity}: no live schema of the connector has this "
                                 "entity type"] * len(records))
            return
        checks = target.rules.check_all(records)
        if checks is not None:
            valid = []
            for number, (record, check) in enumerate(zip(records, checks, strict=True),
                                                     first):
                for name in check.drift:
                    tally.drift[name] = tally.drift.get(name, 0) + 1
                if check.valid:
                    valid.append(record)
                else:
                    tally.invalid += 1
                    tally.errors.append(f"{entity} record {number}: {'; '.join(check.errors)}")
            records = valid
        tally.parsed += len(records)
        if target.sealer is None:
            return  # erased during the run: counted, never stored (said once, at the write)
        primary = target.rules.primary
        sealed = target.sealer.seal([(primary_key(record, primary), record)
                                     for record in records])
        target.staged += sealed
        target.staged_bytes += sum([len(value) for _, value in sealed])
        if target.staged_bytes >= STORE_BYTES or (target.staged_bytes >= STORE_MIN_BYTES
                                                  and writer.idle()):
            self._stage_out(target, writer)

    @staticmethod
    def _stage_out(target: _Target, writer: RecordWriter) -> None:
        if target.sealer is not None and target.staged:
            writer.submit(target.sealer, target.staged)
        target.staged, target.staged_bytes = [], 0

    def _flush(self, job: SyncJob, targets: Mapping[str, _Target], tally: _Tally,
               writer: RecordWriter, *, force: bool = False, settle: bool = False) -> bool:
        """Hand every stage to the writer and count what it stored so far (with
        ``settle``: wait until it stored everything), then report the progress since the
        last report (an event, also the worker's heartbeat); answers whether it reported
        (nothing to say and not ``force``: no event)."""
        for target in targets.values():
            self._stage_out(target, writer)
        stored, gone = writer.collect(wait=settle)
        tally.indexed += stored
        for target in targets.values():
            if target.schema in gone and target.sealer is not None:
                target.sealer = None
                tally.errors.append("a schema was erased during the sync; its records were "
                                    "not stored")
        if tally.empty() and not force:
            return False
        requests, request_ms = self._http.take() if self._http else (0, 0.0)
        job.report(self.name, tally.progress, drift=tally.drift, errors=tally.errors,
                   log=tally.log, checkpoint=tally.checkpoint, requests=requests,
                   request_ms=request_ms)
        try:
            self.app._save(job)
        except ConcurrentWriteError:  # cancelled (or reaped) meanwhile
            raise SyncJobNotRunningError(f"job {job.state.job_id} was stopped") from None
        tally.collected = tally.parsed = tally.indexed = tally.invalid = 0
        tally.drift, tally.errors, tally.log = {}, [], []
        tally.checkpoint = NO_CHECKPOINT
        return True

    def _targets(self, tenant: str, connector: ConnectorState) -> dict[str, _Target]:
        targets = {}
        for schema_id in connector.live_schemas:
            schema = self.app.schemas.get(tenant, schema_id)
            if schema is None or schema.content is None or schema.deleted:
                continue
            sealer = self.records.sealer(schema_id)
            if sealer is None:  # erased since the read model saw it
                continue
            targets[schema.content.entity_type] = _Target(
                schema_id, RecordRules(schema.content.fields), sealer)
        return targets

    def _checkpoint(self, tenant: str, connector: UUID, job: UUID) -> Any:
        for earlier in self.app.sync_jobs.page(tenant, connector, before=None, limit=20):
            if earlier.id != job and earlier.checkpoint is not None:
                return earlier.checkpoint
        return None


class HostHttp:
    """Makes a script's ``ctx.http`` requests for it: only to the connector's own hosts,
    only to public addresses unless the deployment allows private ones (the address guard
    of connection tests, checked at connect time), never following a redirect."""

    def __init__(self, allowed: frozenset[str], outbound: ConnectionSettings) -> None:
        self.allowed = allowed
        self.outbound = outbound
        self._client: httpx.Client | None = None
        self.requests = 0
        self.request_ms = 0.0

    @property
    def client(self) -> httpx.Client:
        """Made at the first request (its TLS context costs a run that makes none)."""
        if self._client is None:
            guard = TargetGuard(allow_private=self.outbound.allow_private_targets)
            ca_file = str(self.outbound.ca_file) if self.outbound.ca_file else None
            self._client = http_client(guard, HTTP_TIMEOUT, ca_file)
        return self._client

    def take(self) -> tuple[int, float]:
        """Requests made, and their milliseconds, since the last call."""
        taken = (self.requests, self.request_ms)
        self.requests, self.request_ms = 0, 0.0
        return taken

    def __call__(self, request: Mapping[str, Any]) -> dict[str, Any]:
        url = str(request.get("url") or "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return {"ok": False, "error": f"not an http(s) URL: {url[:200]}"}
        if not host_allowed(parts.hostname.lower(), self.allowed):
            return {"ok": False, "error": f"host not allowed: {parts.hostname} (allowed: "
                                          f"{', '.join(sorted(self.allowed)) or 'none'})"}
        started = time.perf_counter()
        try:
            response = self.client.request(
                str(request.get("method") or "GET"), url, params=request.get("params") or None,
                headers=request.get("headers") or None, content=request.get("body"))
        except httpx.TimeoutException:
            return {"ok": False, "error": f"{parts.hostname} did not answer in time"}
        except httpx.HTTPError as error:
            return {"ok": False, "error": f"{parts.hostname}: {type(error).__name__}"}
        except RegistryError as refused:  # the address guard: a private or loopback target
            return {"ok": False, "error": str(refused)}
        self.requests += 1
        self.request_ms += (time.perf_counter() - started) * 1000
        body = response.content[:MAX_HTTP_BODY].decode(response.encoding or "utf-8", "replace")
        return {"ok": True, "status": response.status_code,
                "headers": dict(response.headers), "body": body}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """``host`` is listed, or is a subdomain of a listed ``*.domain``."""
    return host in allowed or any(
        entry.startswith("*.") and host.endswith(entry[1:]) for entry in allowed)


def allowed_hosts(connector: ConnectorState) -> frozenset[str]:
    hosts = set()
    base = connector.config.get("baseUrl")
    if isinstance(base, str) and urlsplit(base).hostname:
        hosts.add(str(urlsplit(base).hostname).lower())
    for host in connector.config.get("allowedHosts") or ():
        hosts.add(str(host).lower())
    return frozenset(hosts)


def script_variables(connector: ConnectorState) -> dict[str, Any]:
    return {str(v.get("name")): v.get("value") for v in connector.connection_variables}


def _system_access(tenant: str) -> Access:
    from registry.connectors import Access

    return Access(Actor(SYNC_ACTOR, tenant), roles=("admin",))


class WorkerThread:
    """A daemon thread running one :class:`SyncWorker`: a job at a time, waiting ``idle``
    seconds between looks at an empty queue."""

    def __init__(self, worker: SyncWorker, idle: float) -> None:
        self.worker = worker
        self.idle = idle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sync-{worker.name}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the job under way (the worker's sandbox run ends with the process)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.worker.run_once()
            except DatabaseUnavailableError:
                ran = None
            except Exception:  # keep working: the job's end is recorded or reaped
                log.exception("sync worker %s failed; going on", self.worker.name)
                ran = None
            if ran is None:
                self._stop.wait(self.idle)


def run_until_idle(worker: SyncWorker) -> Iterator[SyncJobState]:
    """Run queued jobs until none is left (tests and ``registry worker --once``)."""
    while (state := worker.run_once()) is not None:
        yield state
