"""Collector-script versions and sync jobs over HTTP, through the real app on both backends:
a universal connector whose script pulls pages from a local HTTP server syncs into its
schema; progress is visible while the job runs; a second sync updates changed records and
forgets the gone ones; drift is reported; the connector shows its sync health."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from werkzeug import Request, Response

from domain.common import Actor
from registry.connectors import Access
from registry.sandbox import Limits, Sandbox
from registry.service import Registry
from registry.settings import ConnectionSettings
from registry.sync import SyncWorker, WorkerThread
from tests.conftest import Backend
from tests.fixtures import connector_body, headers, seed_create
from tests.support.servers import local_server

Client = TestClient[Any]
CONNECTORS = "/internal/v1/connectors"
SCHEMAS = "/internal/v1/connector/universal/schemas"
OWNER = headers(roles=("editor",), subject="owner-1")
READER = headers(roles=("auditor",), subject="auditor-1")
GLOBEX = headers(tenant="globex")
ADMIN = headers()
AS_OWNER = Access(Actor("owner-1", "acme"), roles=("editor",))
DEADLINE = 60.0
PAGES: dict[int, list[dict[str, Any]]] = {}
GATE = {"open": True}
"""While closed, the last page answers "come back" (no users yet) and the script asks
again."""


def pages(request: Request) -> Response:
    page = int(request.args.get("page", "1"))
    last = page + 1 not in PAGES
    body = {"users": PAGES.get(page, []), "next": not last,
            "wait": last and not GATE["open"]}
    return Response(json.dumps(body), content_type="application/json")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with local_server() as httpd:
        httpd.expect_request("/users").respond_with_handler(pages)
        yield httpd.url_for("").rstrip("/")


@pytest.fixture
def worker(registry: Registry) -> Iterator[WorkerThread]:
    """One sync worker in the background, as ``registry serve`` runs it; the pages are
    served on loopback, which this deployment allows."""
    thread = WorkerThread(SyncWorker(registry.app, "http-worker",
                                     outbound=ConnectionSettings(allow_private_targets=True)),
                          idle=0.05)
    thread.start()
    yield thread
    GATE["open"] = True
    thread.stop()


def script(base: str) -> str:
    return (
        "import time\n"
        "def collect(ctx):\n"
        "    page = 1\n"
        "    while True:\n"
        f"        data = ctx.http.get_json('{base}/users', params={{'page': page}})\n"
        "        if data['wait']:\n"
        "            time.sleep(0.05)\n"
        "            continue\n"
        "        for user in data['users']:\n"
        "            yield ('account', user)\n"
        "        if not data['next']:\n"
        "            break\n"
        "        page += 1\n"
        "    ctx.log(f'read {page} pages')\n"
    )


def user(n: int, **changes: Any) -> dict[str, Any]:
    return {"userId": f"u{n}", "username": f"user{n}", "email": f"u{n}@example.com",
            "role": "member", "active": True, **changes}


def poll(client: Client, path: str, done: Any, what: str) -> dict[str, Any]:
    """GET ``path`` until ``done(body)``; fail after the deadline."""
    deadline = time.monotonic() + DEADLINE
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(path, headers=OWNER)
        assert response.status_code == 200, response.text
        body = response.json()
        if done(body):
            return body
        time.sleep(0.05)  # polling interval of a client watching the job
    pytest.fail(f"no {what} within {DEADLINE}s; last answer {body}")


def record(client: Client, records: str, key: str) -> Any:
    """A stored record, read over HTTP by its primary key (a JSON string here)."""
    response = client.get(f"{records}/%22{key}%22", headers=READER)
    assert response.status_code == 200, response.text
    assert response.json()["primaryKey"] == f'"{key}"'
    return response.json()["record"]


def setup(client: Client, base: str) -> tuple[str, str]:
    """A universal connector allowed to call the local server, its schema, a version."""
    created = client.post(CONNECTORS, headers=OWNER, json={
        "name": "HR API", "type": "universal", "scope": "org",
        "config": {"baseUrl": "https://hr.example.com", "allowedHosts": ["127.0.0.1"]}})
    assert created.status_code == 201, created.text
    cnn = created.json()["id"]
    schema = client.post(SCHEMAS, headers=OWNER, json=seed_create() | {"connectorId": cnn})
    assert schema.status_code == 201, schema.text
    saved = client.post(f"{CONNECTORS}/{cnn}/versions", headers=OWNER,
                        json={"name": "v1", "description": "pages of users",
                              "script": script(base)})
    assert saved.status_code == 201, saved.text
    return cnn, schema.json()["id"]


def test_a_sync_over_http_shows_progress_then_updates_and_reports_drift(
    client: Client, registry: Registry, server: str, worker: WorkerThread,
) -> None:
    PAGES.clear()
    PAGES.update({1: [user(1), user(2)],
                  2: [user(3, department="sales"), user(4, active="yes")]})
    GATE["open"] = False
    cnn, schema_id = setup(client, server)

    queued = client.post(f"{CONNECTORS}/{cnn}/sync", headers=OWNER)
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["status"] == "queued" and job["jobId"].startswith("job_") and job["startedAt"]
    assert queued.headers["location"] == f"{CONNECTORS}/{cnn}/sync/{job['jobId']}"
    again = client.post(f"{CONNECTORS}/{cnn}/sync", headers=OWNER)
    assert again.status_code == 409, again.text
    assert again.json()["jobId"] == job["jobId"]
    path = f"{CONNECTORS}/{cnn}/sync/{job['jobId']}"

    # The script waits at the last page while the gate is closed: the job is running and
    # its progress so far can be read (records are stored a little after they are checked,
    # and at the latest while the script waits).
    running = poll(client, path, lambda b: b["status"] == "running"
                   and b["progress"]["indexed"] == 2, "progress while running")
    assert running["progress"] == {"collected": 2, "parsed": 2, "indexed": 2, "invalid": 0}
    assert running["finishedAt"] is None and running["runningSince"]
    assert client.get(f"{CONNECTORS}/{cnn}", headers=OWNER).json()["syncStatus"] == "running"
    GATE["open"] = True
    first = poll(client, path, lambda b: b["status"] == "succeeded", "first sync end")
    assert first["drift"] == [{"field": "department", "seen": 1}]
    assert first["errors"] == ["account record 4: /active: has the wrong type"]
    assert first["scriptVersion"].startswith("ver_") and "info: read 2 pages" in first["log"]
    records = f"{SCHEMAS}/{schema_id}/records"
    assert record(client, records, "u3") == user(3, department="sales")
    assert client.get(f"{records}/%22u4%22", headers=READER).status_code == 404  # invalid

    PAGES.clear()
    PAGES.update({1: [user(1, username="renamed"), user(2)]})
    second = client.post(f"{CONNECTORS}/{cnn}/sync", headers=OWNER).json()
    done = poll(client, f"{CONNECTORS}/{cnn}/sync/{second['jobId']}",
                lambda b: b["status"] == "succeeded", "second sync end")
    assert done["progress"] == {"collected": 2, "parsed": 2, "indexed": 2, "invalid": 0}
    assert record(client, records, "u1")["username"] == "renamed"
    assert client.get(f"{records}/%22u3%22", headers=READER).status_code == 404  # gone
    page = client.get(records, headers=READER).json()
    assert sorted(r["primaryKey"] for r in page["records"]) == ['"u1"', '"u2"']

    listed = client.get(f"{CONNECTORS}/{cnn}/sync?limit=1", headers=READER)
    assert listed.status_code == 200, listed.text
    assert [j["jobId"] for j in listed.json()["jobs"]] == [second["jobId"]]
    older = client.get(f"{CONNECTORS}/{cnn}/sync",
                       params={"limit": 1, "cursor": listed.json()["nextCursor"]},
                       headers=READER).json()
    assert [j["jobId"] for j in older["jobs"]] == [job["jobId"]] and older["nextCursor"] is None

    connector = client.get(f"{CONNECTORS}/{cnn}", headers=READER).json()
    assert connector["syncStatus"] == "idle" and connector["status"] == "active"
    assert connector["lastSyncAt"] == done["finishedAt"] and connector["consecutiveErrors"] == 0
    assert connector["metrics"]["totalSynced"] == 5 and connector["metrics"]["last24h"] == 5
    listed_connector = client.get(CONNECTORS, headers=READER).json()["connectors"]
    assert [c["metrics"] for c in listed_connector if c["id"] == cnn] == [connector["metrics"]]


def test_cancel_failures_and_bad_requests_change_nothing(
    client: Client, server: str,
) -> None:
    PAGES.clear()
    PAGES.update({1: [user(1)]})
    cnn, _ = setup(client, server)
    job = client.post(f"{CONNECTORS}/{cnn}/sync?full=false", headers=OWNER).json()
    path = f"{CONNECTORS}/{cnn}/sync/{job['jobId']}"
    assert client.get(path, headers=OWNER).json()["full"] is False
    assert client.delete(path, headers=READER).status_code == 403
    cancelled = client.delete(path, headers=OWNER)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    finished = client.delete(path, headers=OWNER)
    assert finished.status_code == 409
    assert finished.json()["type"].endswith("/sync-job-finished")

    for bad in (f"{CONNECTORS}/{cnn}/sync/job_nope", f"{CONNECTORS}/{cnn}/sync/"
                "job_01J0000000000000000000000X".replace("X", "0")):
        missing = client.get(bad, headers=OWNER)
        assert missing.status_code == 404, missing.text
        assert missing.headers["content-type"] == "application/problem+json"
    assert client.get(path, headers=GLOBEX).status_code == 404
    assert client.post(f"{CONNECTORS}/{cnn}/sync", headers=GLOBEX).status_code == 404
    assert client.get(f"{CONNECTORS}/{cnn}/sync?cursor=bogus",
                      headers=OWNER).status_code == 422
    assert client.post(f"{CONNECTORS}/{cnn}/sync?full=maybe",
                       headers=OWNER).status_code == 422

    storage = client.post(CONNECTORS, headers=OWNER, json={
        "name": "Docs", "type": "s3", "scope": "org",
        "config": {"bucket": "docs", "region": "us-east-1"}}).json()["id"]
    refused = client.post(f"{CONNECTORS}/{storage}/sync", headers=OWNER)
    assert refused.status_code == 422 and "only universal ones" in refused.json()["detail"]


def test_script_versions_over_http(client: Client, server: str) -> None:
    cnn, _ = setup(client, server)
    versions = f"{CONNECTORS}/{cnn}/versions"
    broken = client.post(versions, headers=OWNER,
                         json={"name": "v2", "script": "def collect(ctx)\n    yield 1\n"})
    assert broken.status_code == 201, broken.text
    body = broken.json()
    assert body["isLatest"] and not body["isDefault"] and body["publishedAt"] is None
    assert [m["severity"] for m in body["messages"]] == ["error"]
    assert broken.headers["location"] == f"{versions}/{body['id']}"

    listed = client.get(versions, headers=READER).json()
    assert [v["name"] for v in listed["versions"]] == ["v1", "v2"]
    assert listed["latest"] == body["id"]
    got = client.get(f"{versions}/default", headers=READER)
    assert got.status_code == 200, got.text
    default = got.json()
    assert default["name"] == "v1" and default["isDefault"] and default["publishedAt"]
    assert listed["default"] == default["id"]
    assert client.get(f"{versions}/latest", headers=READER).json()["name"] == "v2"
    assert client.get(f"{versions}/v1", headers=READER).json()["id"] == default["id"]
    assert "script" not in default

    refused = client.put(f"{versions}/default", headers=OWNER, json={"version": "v2"})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/script-version-has-errors")
    fixed = client.post(versions, headers=OWNER, json={"name": "v3", "script": script(server)})
    moved = client.put(f"{versions}/default", headers=OWNER, json={"version": "v3"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == fixed.json()["id"] and moved.json()["isDefault"]

    taken = client.post(versions, headers=OWNER, json={"name": "v1", "script": "x = 1"})
    assert taken.status_code == 409
    invalid = client.post(versions, headers=OWNER,
                          json={"name": "latest", "script": "", "extra": 1})
    assert invalid.status_code == 422
    assert [e["pointer"] for e in invalid.json()["errors"]] == ["/extra", "/name", "/script"]
    bad_default = client.put(f"{versions}/default", headers=OWNER, json={"version": 3})
    assert bad_default.status_code == 422
    assert client.put(f"{versions}/default", headers=OWNER,
                      json={"version": "v9"}).status_code == 404
    assert client.get(f"{versions}/v9", headers=READER).status_code == 404
    assert client.post(versions, headers=READER,
                       json={"name": "v4", "script": "x = 1"}).status_code == 403
    assert client.get(versions, headers=GLOBEX).status_code == 404
    assert client.get(f"{CONNECTORS}/{cnn}/revisions/1", headers=READER).status_code == 200


GROUPS = {"name": "Groups", "entityType": "group", "key": "groups",
          "fields": [{"name": "groupId", "type": "string", "primary": True},
                     {"name": "label", "type": "string"}]}


def marked_script(mark: str) -> str:
    """Records whose values carry ``mark`` only once built: the script's text (itself marked
    by a comment) never spells a record value."""
    return (
        f"# script text {mark}SCRIPT\n"
        "def collect(ctx):\n"
        f"    mark = '{mark[:3]}' + '{mark[3:]}'\n"
        "    for n in range(3):\n"
        "        yield ('account', {'userId': f'{mark}REC{n}', 'username': 'u',\n"
        "                           'email': f'u{n}@example.com', 'role': 'r', 'active': True})\n"
        "        yield ('group', {'groupId': f'{mark}GRP{n}', 'label': 'g'})\n"
    )


def synced_connector(client: Client, registry: Registry, mark: str) -> tuple[str, list[str]]:
    """A universal connector with a credential, an account and a group schema, and their
    records stored by a sync of a marked script."""
    created = client.post(CONNECTORS, headers=OWNER, json={
        "name": f"Connector {mark}", "type": "universal", "scope": "org",
        "config": {"baseUrl": "https://hr.example.com", "allowedHosts": ["hr.example.com"]},
        "credentials": {"authType": "bearer", "token": f"{mark}CREDENTIAL"}})
    assert created.status_code == 201, created.text
    cnn = created.json()["id"]
    schemas = []
    for body in (seed_create(), GROUPS):
        created = client.post(SCHEMAS, headers=OWNER, json=body | {"connectorId": cnn})
        assert created.status_code == 201, created.text
        schemas.append(created.json()["id"])
    client.post(f"{CONNECTORS}/{cnn}/versions", headers=OWNER,
                json={"name": "v1", "script": marked_script(mark)})
    job = client.post(f"{CONNECTORS}/{cnn}/sync", headers=OWNER).json()
    done = SyncWorker(registry.app, "erase-worker").run_once()
    assert done is not None and done.job_id == job["jobId"] and done.status == "succeeded"
    assert done.progress.indexed == 6
    return cnn, schemas


def test_erasing_a_schema_or_a_connector_takes_its_records_script_and_credential(
    client: Client, registry: Registry, backend: Backend,
) -> None:
    gone, gone_schemas = synced_connector(client, registry, "WOMBAT")
    kept, (kept_accounts, kept_groups) = synced_connector(client, registry, "IBEXKEPT")

    erased = client.delete(f"{SCHEMAS}/{kept}/{kept_groups}/erase", headers=ADMIN)
    assert erased.status_code == 204, erased.text
    assert client.get(f"{SCHEMAS}/{kept_groups}/records", headers=READER).status_code == 410
    assert client.delete(f"{CONNECTORS}/{gone}/erase", headers=ADMIN).status_code == 204
    for schema_id in gone_schemas:
        assert client.get(f"{SCHEMAS}/{schema_id}/records", headers=READER).status_code == 410
    assert client.get(f"{CONNECTORS}/{gone}/versions", headers=READER).status_code == 410

    dump = backend.dump()
    for mark in ("WOMBATREC", "WOMBATGRP", "WOMBATSCRIPT", "WOMBATCREDENTIAL", "IBEXKEPTGRP"):
        assert mark not in dump, mark
    if backend.name == "sqlite":
        assert b"WOMBAT" not in backend.raw_files()
    left = client.get(f"{SCHEMAS}/{kept_accounts}/records", headers=READER).json()["records"]
    assert sorted(r["record"]["userId"] for r in left) == [f"IBEXKEPTREC{n}" for n in range(3)]


ESCAPES = {
    "open a socket": ("import socket\n"
                      "def collect(ctx):\n"
                      "    socket.create_connection(('127.0.0.1', 5432), timeout=2)\n"
                      "    yield ('x', {})\n", ("OSError", "ConnectionRefusedError")),
    "read the registry's database": ("def collect(ctx):\n"
                                     "    open({db!r}, 'rb').read()\n"
                                     "    yield ('x', {{}})\n", ("FileNotFoundError",)),
    "read /etc/shadow": ("def collect(ctx):\n"
                         "    open('/etc/shadow').read()\n"
                         "    yield ('x', {})\n", ("FileNotFoundError",)),
    "read its environment": ("import os\n"
                             "def collect(ctx):\n"
                             "    os.environ['REGISTRY_JWT_SECRET']\n"
                             "    yield ('x', {})\n", ("KeyError",)),
    "fork bomb": ("import os\n"
                  "def collect(ctx):\n"
                  "    while True:\n"
                  "        os.fork()\n"
                  "    yield ('x', {})\n", ("at most 16 processes",)),
    "allocate 8 GiB": ("def collect(ctx):\n"
                       "    block = bytearray(8 << 30)\n"
                       "    yield ('x', {'n': len(block)})\n", ("memory limit, 512 MiB",)),
    "loop forever": ("def collect(ctx):\n"
                     "    while True:\n"
                     "        pass\n"
                     "    yield ('x', {})\n", ("the script used more than its CPU",)),
    "print 1 GB": ("def collect(ctx):\n"
                   "    line = 'x' * (1 << 20)\n"
                   "    for _ in range(1024):\n"
                   "        print(line)\n"
                   "    yield ('x', {})\n", ("the script sent more than its output limit",)),
    "call a host not allowed": ("def collect(ctx):\n"
                                "    ctx.http.get_json('https://evil.example.net/steal')\n"
                                "    yield ('x', {})\n", ("HttpError: host not allowed",)),
}


@pytest.fixture
def confined(backend: Backend) -> Iterator[Registry]:
    """A registry whose sandbox has small limits, so that each escape ends quickly."""
    limits = Limits(cpu_seconds=1, memory_bytes=512 << 20, processes=16, wall_seconds=20,
                    output_bytes=4 << 20)
    instance = Registry(dataclasses.replace(backend.settings(), sandbox=Sandbox(limits=limits)))
    try:
        yield instance
    finally:
        instance.close()


def test_every_escape_fails_its_job_clearly_and_the_registry_goes_on(
    confined: Registry, backend: Backend,
) -> None:
    worker = SyncWorker(confined.app, "escape-worker")
    database = backend.url.removeprefix("sqlite:///")
    for name, (text, expected) in ESCAPES.items():
        connector = confined.app.create_connector(AS_OWNER, connector_body(f"Escape {name}"))
        script_text = text.format(db=database) if "{db" in text else text
        confined.app.save_script_version(AS_OWNER, connector.id,
                                         {"name": "v1", "script": script_text})
        confined.app.request_sync(AS_OWNER, connector.id)
        failed = worker.run_once()
        assert failed is not None and failed.status == "failed", (name, failed)
        assert failed.error is not None, name
        assert any(text in failed.error for text in expected), (name, failed.error)
        assert "Traceback" not in failed.error and "registry/" not in failed.error
    # The registry goes on: the next job of a well-behaved script succeeds.
    good = confined.app.create_connector(AS_OWNER, connector_body("Well behaved"))
    confined.app.create_schema(AS_OWNER, seed_create() | {"connectorId": good.connector_id})
    confined.app.save_script_version(AS_OWNER, good.id, {"name": "v1", "script": (
        "def collect(ctx):\n"
        "    yield ('account', {'userId': 'u1', 'username': 'a', 'email': 'a@example.com',"
        " 'role': 'r', 'active': True})\n")})
    confined.app.request_sync(AS_OWNER, good.id)
    ok = worker.run_once()
    assert ok is not None and ok.status == "succeeded" and ok.progress.indexed == 1
