"""Sync jobs on real SQLite and PostgreSQL, scripts in the real sandbox, pages served by a
real local HTTP server: queue, claim, validate, store, drift, second sync, cancel, reap, erase."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug import Request, Response

from domain.connectors.state import ConnectorState
from domain.scripts.versions import ScriptVersionNotFoundError
from domain.sync.errors import SyncInProgressError, SyncJobFinishedError
from domain.sync.state import Progress
from registry.records import RecordStore, primary_key
from registry.service import Registry
from registry.settings import ConnectionSettings
from registry.sync import SyncWorker
from tests.conftest import Backend
from tests.fixtures import connector_body, seed_create
from tests.integration.test_connectors import OWNER
from tests.support.servers import local_server

PAGES: dict[int, list[dict[str, Any]]] = {}
BEFORE_PAGE: dict[int, Callable[[], None]] = {}
"""What the server does before it answers a page (while the sync waits for it)."""
LOCAL = ConnectionSettings(allow_private_targets=True)
"""The pages are served on loopback: allowed here, refused by default."""


def pages(request: Request) -> Response:
    page = int(request.args.get("page", "1"))
    if page in BEFORE_PAGE:
        BEFORE_PAGE.pop(page)()
    body = json.dumps({"users": PAGES.get(page, []), "next": page + 1 in PAGES})
    return Response(body, content_type="application/json")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with local_server() as httpd:
        httpd.expect_request("/users").respond_with_handler(pages)
        yield httpd.url_for("").rstrip("/")


def script(base: str) -> str:
    return (
        "def collect(ctx):\n"
        "    page = (ctx.state or {}).get('resume', 1)\n"
        "    while True:\n"
        f"        data = ctx.http.get_json('{base}/users', params={{'page': page}})\n"
        "        for user in data['users']:\n"
        "            yield ('account', user)\n"
        "        if not data['next']:\n"
        "            break\n"
        "        page += 1\n"
        "    ctx.checkpoint({'lastPage': page})\n"
        "    ctx.log(f'read {page} pages')\n"
    )


def jobs(registry: Registry) -> list[dict[str, Any]]:
    with registry.db.transaction(write=False) as cur:
        return cur.all("SELECT * FROM registry_sync_jobs ORDER BY uuid")


def user(n: int, **changes: Any) -> dict[str, Any]:
    return {"userId": f"u{n}", "username": f"user{n}", "email": f"u{n}@example.com",
            "role": "member", "active": True, **changes}


def universal(registry: Registry, base: str, name: str = "Test connector") -> ConnectorState:
    connector = registry.app.create_connector(OWNER, connector_body(name, config={
        "baseUrl": "https://api.example.com", "allowedHosts": ["127.0.0.1"]}))
    registry.app.save_script_version(OWNER, connector.id, {"name": "v1",
                                                           "script": script(base)})
    return connector


def test_a_sync_stores_valid_records_reports_drift_and_a_second_sync_updates(
    registry: Registry, backend: Backend, server: str,
) -> None:
    PAGES.clear()
    PAGES.update({1: [user(1), user(2)],
                  2: [user(3, department="sales"), user(4, active="yes")],
                  3: [user(5, department="ops"), user(6)]})
    connector = universal(registry, server)
    schema = registry.app.create_schema(OWNER, seed_create() | {
        "connectorId": connector.connector_id})
    worker = SyncWorker(registry.app, "worker-a", outbound=LOCAL)

    queued = registry.app.request_sync(OWNER, connector.id)
    assert queued.status == "queued" and queued.script_version is not None
    with pytest.raises(SyncInProgressError):
        registry.app.request_sync(OWNER, connector.id)
    done = worker.run_once()
    assert done is not None and done.status == "succeeded", done
    assert done.progress == Progress(collected=6, parsed=5, indexed=5, invalid=1)
    assert done.drift == {"department": 2}
    assert done.errors == ("account record 4: /active: has the wrong type",)
    assert done.checkpoint == {"lastPage": 3} and "info: read 3 pages" in done.log
    assert worker.run_once() is None  # nothing queued

    store = RecordStore(registry.db)
    assert store.get(schema.id, primary_key(user(3), ["userId"])) == user(3, department="sales")
    assert store.get(schema.id, primary_key(user(4), ["userId"])) is None
    shown = registry.app.sync_job(OWNER, connector.id, done.id)
    assert shown.progress == done.progress and shown.status == "succeeded"

    PAGES.clear()
    PAGES.update({1: [user(1, username="renamed"), user(2)], 2: [user(3)]})
    registry.app.request_sync(OWNER, connector.id)
    second = worker.run_once()
    assert second is not None and second.status == "succeeded"
    assert second.progress == Progress(collected=3, parsed=3, indexed=3)
    assert store.get(schema.id, primary_key(user(1), ["userId"]))["username"] == "renamed"
    assert store.get(schema.id, primary_key(user(5), ["userId"])) is None  # gone at source
    assert store.count(schema.id) == 3

    health = registry.app.sync_jobs.health(connector.id, datetime.now(UTC))
    assert health is not None and health.sync_status == "idle"
    assert health.consecutive_errors == 0 and health.last_error is None
    assert health.last_sync_at == second.finished_at
    assert health.metrics["totalSynced"] == 8 and health.metrics["last24h"] == 8
    assert health.metrics["avgLatencyMs"] > 0  # five pages fetched through the host
    tomorrow = registry.app.sync_jobs.health(connector.id, datetime.now(UTC) + timedelta(days=2))
    assert tomorrow is not None and tomorrow.metrics["last24h"] == 0

    # Three records again, as many as are stored, but two of one key: u3 was not seen.
    PAGES.clear()
    PAGES.update({1: [user(1), user(2)], 2: [user(1, username="again")]})
    registry.app.request_sync(OWNER, connector.id)
    third = worker.run_once()
    assert third is not None and third.progress == Progress(collected=3, parsed=3, indexed=3)
    assert store.get(schema.id, primary_key(user(3), ["userId"])) is None
    assert store.get(schema.id, primary_key(user(1), ["userId"]))["username"] == "again"
    assert store.count(schema.id) == 2


def test_records_of_several_entity_types_in_a_run_keep_their_numbers_and_order(
    registry: Registry,
) -> None:
    # One run of records: account, unknown type, account, invalid account, account with
    # drift, account. Checked a type at a time, numbered and reported in the order yielded.
    connector = registry.app.create_connector(OWNER, connector_body("Mixed", config={
        "baseUrl": "https://api.example.com", "allowedHosts": ["api.example.com"]}))
    stream = [("account", user(1)), ("group", {"id": "g1"}), ("account", user(2)),
              ("account", user(3, active="yes")), ("account", user(4, department="ops")),
              ("group", {"id": "g2"}), ("account", user(1, username="again"))]
    registry.app.save_script_version(OWNER, connector.id, {"name": "v1", "script": (
        f"def collect(ctx):\n    yield from {stream!r}\n")})
    schema = registry.app.create_schema(OWNER, seed_create() | {
        "connectorId": connector.connector_id})
    registry.app.request_sync(OWNER, connector.id)
    done = SyncWorker(registry.app, "worker-m").run_once()
    assert done is not None and done.status == "succeeded", done
    assert done.progress == Progress(collected=7, parsed=4, indexed=4, invalid=3)
    assert done.errors == ("group: no live schema of the connector has this entity type",
                           "account record 4: /active: has the wrong type",
                           "group: no live schema of the connector has this entity type")
    assert done.drift == {"department": 1}
    store = RecordStore(registry.db)
    assert store.count(schema.id) == 3  # u1 twice: the later write wins
    assert store.get(schema.id, primary_key(user(1), ["userId"]))["username"] == "again"


def test_a_failing_script_fails_the_job_and_frees_the_connector(
    registry: Registry, server: str,
) -> None:
    connector = registry.app.create_connector(OWNER, connector_body(config={
        "baseUrl": "https://api.example.com", "allowedHosts": ["api.example.com"]}))
    with pytest.raises(ScriptVersionNotFoundError):
        registry.app.request_sync(OWNER, connector.id)
    registry.app.save_script_version(OWNER, connector.id, {"name": "v1",
                                                           "script": script(server)})
    registry.app.request_sync(OWNER, connector.id)
    failed = SyncWorker(registry.app, outbound=LOCAL).run_once()
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and "host not allowed: 127.0.0.1" in failed.error
    health = registry.app.sync_jobs.health(connector.id, datetime.now(UTC))
    assert health is not None and health.sync_status == "error"
    assert health.consecutive_errors == 1 and health.last_error == failed.error
    assert health.metrics["avgLatencyMs"] is None  # no request was made
    assert registry.app.request_sync(OWNER, connector.id).status == "queued"


def test_cancel_and_the_reaper(registry: Registry, server: str) -> None:
    connector = universal(registry, server)
    job = registry.app.request_sync(OWNER, connector.id)
    cancelled = registry.app.cancel_sync(OWNER, connector.id, job.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(SyncJobFinishedError):
        registry.app.cancel_sync(OWNER, connector.id, job.id)

    silent = registry.app.request_sync(OWNER, connector.id)
    claimed = registry.app.claim_sync("worker-that-dies")
    assert claimed is not None and claimed.id == silent.id
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert registry.app.reap_syncs(later) == [silent.id]
    assert registry.app.sync_job(OWNER, connector.id, silent.id).status == "queued"
    assert registry.app.claim_sync("another-that-dies") is not None
    assert registry.app.reap_syncs(later + timedelta(minutes=2)) == [silent.id]
    ended = registry.app.sync_job(OWNER, connector.id, silent.id)
    assert ended.status == "failed" and "stopped answering" in (ended.error or "")
    assert registry.app.request_sync(OWNER, connector.id).status == "queued"  # freed


def test_erasing_the_connector_erases_its_jobs_and_records(
    registry: Registry, backend: Backend, server: str,
) -> None:
    PAGES.clear()
    PAGES.update({1: [user(1, username="ERASEDmarkQUAGGA")]})
    connector = universal(registry, server)
    schema = registry.app.create_schema(OWNER, seed_create() | {
        "connectorId": connector.connector_id})
    registry.app.request_sync(OWNER, connector.id)
    done = SyncWorker(registry.app, outbound=LOCAL).run_once()
    assert done is not None and done.status == "succeeded"
    registry.app.request_sync(OWNER, connector.id)  # still queued at the erase
    kept = universal(registry, server, "Kept")
    registry.app.request_sync(OWNER, kept.id)
    registry.app.erase_connector(OWNER, connector.id)
    live = jobs(registry)
    assert [row["connector_uuid"] for row in live] == [str(kept.id)]
    registry.rebuild()
    assert jobs(registry) == live  # a rebuild gives exactly the live rows
    assert RecordStore(registry.db).count(schema.id) == 0
    ran = SyncWorker(registry.app, outbound=LOCAL).run_once()  # the erased connector's job is gone
    assert ran is not None and ran.connector_id == kept.id
    dump = backend.dump()
    assert "ERASEDmarkQUAGGA" not in dump


def test_a_schema_erased_during_a_sync_keeps_none_of_its_records(
    registry: Registry, backend: Backend, server: str,
) -> None:
    PAGES.clear()
    PAGES.update({1: [user(1, username="EARLYmarkOKAPI")],
                  2: [user(2, username="LATEmarkOKAPI")]})
    connector = universal(registry, server)
    schema = registry.app.create_schema(OWNER, seed_create() | {
        "connectorId": connector.connector_id})
    BEFORE_PAGE[2] = lambda: registry.app.erase_schema(OWNER, connector.connector_id,
                                                       schema.id)
    registry.app.request_sync(OWNER, connector.id)
    done = SyncWorker(registry.app, outbound=LOCAL).run_once()
    assert done is not None and done.status == "succeeded", done
    assert done.progress.collected == 2 and done.progress.indexed == 0
    assert list(done.errors) == ["a schema was erased during the sync; its records were not "
                                 "stored"]
    assert RecordStore(registry.db).count(schema.id) == 0
    assert "markOKAPI" not in backend.dump()


def test_a_loopback_target_is_refused_unless_the_deployment_allows_it(
    registry: Registry, server: str,
) -> None:
    PAGES.clear()
    PAGES.update({1: [user(1)]})
    connector = universal(registry, server)
    registry.app.request_sync(OWNER, connector.id)
    refused = SyncWorker(registry.app).run_once()  # the default: public addresses only
    assert refused is not None and refused.status == "failed"
    assert refused.error is not None and "127.0.0.1" in refused.error
    assert "may not reach" in refused.error
