"""A connector's tools over HTTP, through the real app on both backends: a script declaring
two actions, the built-ins, running an action against a local HTTP server in the real
sandbox, bad input, actions that raise, loop or exhaust memory, and the audit trail."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from werkzeug import Request, Response

from api.app import create_app
from registry.sandbox import Limits, Sandbox
from registry.service import Registry
from registry.settings import ConnectionSettings
from tests.conftest import Backend
from tests.fixtures import Credentials, headers
from tests.support.servers import local_server

Client = TestClient[Any]
UNIVERSAL = "/internal/v1/connector/universal"
CONNECTORS = "/internal/v1/connectors"
OWNER = headers(roles=("editor",), subject="owner-1")
COLLECTOR = headers(roles=("collector",), subject="collector-1")
AUDITOR = headers(roles=("auditor",), subject="auditor-1")
GLOBEX = headers(tenant="globex", roles=("collector",))


def people(request: Request) -> Response:
    user = request.args.get("id", "")
    body = {"id": user, "name": f"Name of {user}",
            "sawToken": request.headers.get("X-Token") == "tok-SECRET-123"}
    return Response(json.dumps(body), content_type="application/json")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with local_server() as httpd:
        httpd.expect_request("/people").respond_with_handler(people)
        yield httpd.url_for("").rstrip("/")


def script(base: str) -> str:
    return (
        "@action('lookup_user', description='Find a user by id',\n"
        "        input={'type': 'object', 'required': ['userId'], 'additionalProperties': False,\n"
        "               'properties': {'userId': {'type': 'string', 'minLength': 1},\n"
        "                              'token': {'type': 'string', 'writeOnly': True}}},\n"
        "        output={'type': 'object', 'required': ['name'],\n"
        "                'properties': {'name': {'type': 'string'}}})\n"
        "def lookup_user(ctx, input):\n"
        f"    found = ctx.http.get_json('{base}/people', params={{'id': input['userId']}},\n"
        "                              headers={'X-Token': input.get('token', '')})\n"
        "    ctx.log('looked up')\n"
        "    return {'name': found['name'], 'sawToken': found['sawToken']}\n"
        "\n"
        "@action('misbehave', description='Fails in the way asked',\n"
        "        input={'type': 'object', 'properties': {'how': {'enum':\n"
        "               ['raise', 'loop', 'memory', 'wrong-output']}}})\n"
        "def misbehave(ctx, input):\n"
        "    how = input.get('how')\n"
        "    if how == 'raise':\n"
        "        raise ValueError('the upstream said no')\n"
        "    if how == 'loop':\n"
        "        while True:\n"
        "            pass\n"
        "    if how == 'memory':\n"
        "        return len(bytearray(8 << 30))\n"
        "    return {'fine': True}\n"
        "\n"
        "def collect(ctx):\n"
        "    yield ('account', {'userId': 'u1'})\n"
    )


@pytest.fixture
def client(backend: Backend) -> Iterator[Client]:
    """The app over a registry whose sandbox has small limits, allowed to reach the local
    server on loopback."""
    limits = Limits(cpu_seconds=1, memory_bytes=512 << 20, processes=16, wall_seconds=20,
                    output_bytes=4 << 20)
    settings = dataclasses.replace(
        backend.settings(), sandbox=Sandbox(limits=limits),
        connections=ConnectionSettings(allow_private_targets=True))
    registry = Registry(settings)
    Credentials.use(registry)
    try:
        with TestClient(create_app(settings, registry=registry),
                        raise_server_exceptions=False) as test_client:
            yield test_client
    finally:
        Credentials.use(None)
        registry.close()


def connector(client: Client, base: str) -> str:
    created = client.post(CONNECTORS, headers=OWNER, json={
        "name": "People API", "type": "universal", "scope": "org",
        "config": {"baseUrl": "https://people.example.com",
                   "allowedHosts": ["people.example.com", "127.0.0.1"]}})
    assert created.status_code == 201, created.text
    cnn = str(created.json()["id"])
    saved = client.post(f"{CONNECTORS}/{cnn}/versions", headers=OWNER,
                        json={"name": "v1", "script": script(base)})
    assert saved.status_code == 201, saved.text
    texts = [m["text"] for m in saved.json()["messages"]]
    assert "the script declares actions: lookup_user, misbehave" in texts
    return cnn


def test_tools_are_listed_run_validated_and_audited(client: Client, server: str) -> None:
    cnn = connector(client, server)
    listed = client.get(f"{UNIVERSAL}/tools/{cnn}", headers=COLLECTOR)
    assert listed.status_code == 200, listed.text
    tools = listed.json()["tools"]
    assert [t["id"] for t in tools] == ["test_connection", "sync", "lookup_user", "misbehave"]
    lookup = tools[2]
    assert lookup["description"] == "Find a user by id" and lookup["name"] == "lookup_user"
    assert lookup["inputSchema"]["required"] == ["userId"]
    assert lookup["outputSchema"]["required"] == ["name"]

    ran = client.post(f"{UNIVERSAL}/action/{cnn}/lookup_user", headers=COLLECTOR,
                      json={"userId": "u42", "token": "tok-SECRET-123"})
    assert ran.status_code == 200, ran.text
    assert ran.json()["output"] == {"name": "Name of u42", "sawToken": True}
    assert ran.json()["durationMs"] > 0

    bad = client.post(f"{UNIVERSAL}/action/{cnn}/lookup_user", headers=COLLECTOR,
                      json={"userId": "", "extra": 1})
    assert bad.status_code == 422, bad.text
    assert sorted(e["pointer"] for e in bad.json()["errors"]) == ["", "/userId"]
    assert client.post(f"{UNIVERSAL}/action/{cnn}/nope", headers=COLLECTOR,
                       json={}).status_code == 404
    assert client.post(f"{UNIVERSAL}/action/{cnn}/lookup_user", headers=AUDITOR,
                       json={"userId": "u1"}).status_code == 403
    assert client.post(f"{UNIVERSAL}/action/{cnn}/lookup_user", headers=GLOBEX,
                       json={"userId": "u1"}).status_code == 404
    assert client.get(f"{UNIVERSAL}/tools/{cnn}", headers=GLOBEX).status_code == 404

    failures = {"raise": "ValueError: the upstream said no",
                "loop": "CPU time limit",
                "memory": "memory limit, 512 MiB",
                "wrong-output": None}
    for how, expected in failures.items():
        failed = client.post(f"{UNIVERSAL}/action/{cnn}/misbehave", headers=COLLECTOR,
                             json={"how": how})
        if expected is None:  # the output breaks no schema (none was declared)
            assert failed.status_code == 200, failed.text
            continue
        assert failed.status_code == 502, (how, failed.text)
        problem = failed.json()
        assert problem["type"].endswith("/action-failed") and expected in problem["detail"]
        assert "Traceback" not in failed.text and "registry/" not in failed.text

    queued = client.post(f"{UNIVERSAL}/action/{cnn}/sync", headers=OWNER, json={})
    assert queued.status_code == 200, queued.text
    assert queued.json()["output"]["status"] == "queued"

    entries = client.get("/internal/v1/audit", headers=AUDITOR,
                         params={"limit": 50}).json()["entries"]
    runs = [e for e in entries if e["route"].endswith("/action/{id}/{action_id}")]
    assert [e["status"] for e in runs if e["detail"] is None] == [403]  # refused at the door
    details = [e["detail"] for e in reversed(runs) if e["detail"] is not None]
    assert [(d["action"], d["outcome"]) for d in details] == [
        ("lookup_user", "succeeded"), ("lookup_user", "failed (422)"), ("nope", "failed (404)"),
        ("misbehave", "failed (502)"),
        ("misbehave", "failed (502)"), ("misbehave", "failed (502)"),
        ("misbehave", "succeeded"), ("sync", "succeeded")]
    assert all(d["connectorId"] == cnn and d["durationMs"] >= 0 for d in details)
    assert details[0]["input"] == {"userId": "u42", "token": "********"}
    assert "tok-SECRET-123" not in json.dumps(entries)
    assert {e["subject"] for e in runs if e["detail"]} == {"collector-1", "owner-1"}
