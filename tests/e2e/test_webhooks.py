"""Webhooks through the real Litestar app and a real local receiver, on both backends.

Admins register endpoints (the secret is never answered, logged or stored in plaintext); every
change committed afterwards reaches the receiver exactly once per delivery id, signed the
Standard Webhooks way (checked with that project's own library), including changes made while
the receiver was down and across a restart of the registry. The sender is driven directly,
with an explicit clock, never waited for.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from pytest_httpserver import HTTPServer
from standardwebhooks.webhooks import Webhook
from werkzeug import Request, Response

from api.app import create_app
from registry.service import Registry
from registry.settings import ConnectionSettings, Settings
from tests.conftest import Backend
from tests.fixtures import API, cid, headers, placed, seed_create
from tests.support.servers import free_port

Client = TestClient[Any]
HOOKS = "/internal/v1/webhooks"
H = headers()
OTHER = headers(tenant="globex")
SECRET = "whsec-test-MARKER-0123456789abcdef"


def _settings(backend: Backend) -> Settings:
    # Tests turn the address guard's private targets on: the receiver is on 127.0.0.1.
    return dataclasses.replace(backend.settings(),
                               connections=ConnectionSettings(allow_private_targets=True))


@pytest.fixture
def local(backend: Backend, registry: Registry) -> Iterator[tuple[Registry, Client]]:
    """The fixture's registry with outbound calls to 127.0.0.1 allowed, and its app."""
    registry.sender.outbound = _settings(backend).connections
    with TestClient(create_app(_settings(backend), registry=registry)) as client:
        yield registry, client


class Receiver:
    """A real HTTP server on a fixed port, started and stopped at will; keeps every request."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[tuple[dict[str, str], str]] = []
        self.server: HTTPServer | None = None

    def up(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=self.port)
        self.server.expect_request("/hook", method="POST").respond_with_handler(self._take)
        self.server.start()

    def down(self) -> None:
        if self.server is not None:
            self.server.clear()
            self.server.stop()
            self.server = None

    def _take(self, request: Request) -> Response:
        self.received.append((dict(request.headers), request.get_data(as_text=True)))
        return Response("", status=204)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.down()


def _register(client: Client, url: str, types: list[str] | None = None) -> dict[str, Any]:
    answer = client.post(HOOKS, json={"url": url, "secret": SECRET,
                                      "eventTypes": types or ["*"]}, headers=H)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _change(client: Client, name: str, key: str = "account") -> str:
    body = placed(seed_create()) | {"key": key}
    created = client.post(f"{API}/schemas", json=body, headers=H)
    if created.status_code in (200, 409):  # exists (unchanged or not): rename it instead
        schema_id = created.json().get("existingId") or created.json()["id"]
        renamed = client.put(f"{API}/schemas/{schema_id}", json=body | {"name": name}, headers=H)
        assert renamed.status_code == 200, renamed.text
        return str(schema_id)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _verified(received: list[tuple[dict[str, str], str]]) -> list[dict[str, Any]]:
    """Every body, each after its signature is checked as a receiver would check it."""
    checker = Webhook(base64.b64encode(SECRET.encode()).decode())
    bodies = []
    for request_headers, body in received:
        lower = {k.lower(): v for k, v in request_headers.items()}
        checker.verify(body, lower)  # raises on a bad signature or a stale timestamp
        assert json.loads(body)["deliveryId"] == lower["webhook-id"]
        bodies.append(json.loads(body))
    return bodies


def test_endpoints_are_admin_only_tenant_scoped_and_never_show_the_secret(
    local: tuple[Registry, Client], backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, client = local
    created = _register(client, "https://hooks.example.com/in", ["schema.updated"])
    assert set(created) == {"id", "url", "eventTypes", "version", "createdAt", "createdBy"}
    assert created["id"].startswith("whk_") and created["eventTypes"] == ["schema.updated"]
    one = client.get(f"{HOOKS}/{created['id']}", headers=H)
    assert one.json() == created
    assert client.get(HOOKS, headers=H).json() == {"webhooks": [created]}
    # Another tenant's id answers like an unknown one, everywhere.
    for path in (f"{HOOKS}/{created['id']}", f"{HOOKS}/{created['id']}/deliveries",
                 f"{HOOKS}/whk_00000000000000000000000000", f"{HOOKS}/nonsense"):
        assert client.get(path, headers=OTHER).status_code == 404
    assert client.delete(f"{HOOKS}/{created['id']}", headers=OTHER).status_code == 404
    assert client.get(HOOKS, headers=OTHER).json() == {"webhooks": []}
    editor = headers(roles=("editor",), subject="editor-1")
    assert client.get(HOOKS, headers=editor).status_code == 403
    bad = client.post(HOOKS, json={"url": "ftp://x", "secret": "short", "eventTypes": ["x"],
                                   "extra": 1}, headers=H)
    assert bad.status_code == 422, bad.text
    assert {e["pointer"] for e in bad.json()["errors"]} == {
        "/url", "/secret", "/eventTypes/0", "/extra"}
    assert client.delete(f"{HOOKS}/{created['id']}", headers=H).status_code == 204
    assert client.get(f"{HOOKS}/{created['id']}", headers=H).status_code == 404
    history = client.get(f"{HOOKS}/{created['id']}/history", headers=H)
    assert [(e["version"], e["changes"], e["changedBy"]) for e in history.json()["history"]] == [
        (2, ["Deleted"], "admin@example.com"), (1, ["Initial creation"], "admin@example.com")]
    assert client.get(f"{HOOKS}/{created['id']}/history", headers=OTHER).status_code == 404
    assert client.delete(f"{HOOKS}/{created['id']}", headers=H).status_code == 404
    assert "MARKER" not in backend.dump()
    assert "MARKER" not in caplog.text


def test_every_change_arrives_once_signed_despite_a_down_receiver_and_a_restart(
    local: tuple[Registry, Client], backend: Backend, receiver: Receiver
) -> None:
    registry, client = local
    hook = _register(client, receiver.url)
    schema_id = _change(client, "first")
    _change(client, "second")
    now = datetime.now(UTC)

    # The receiver is down: every attempt fails, is logged and scheduled again.
    # The connector (created on first use), schema v1, the connector's attach, schema v2.
    assert registry.send_webhooks(now) == 4
    log = client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=H).json()["deliveries"]
    assert [(d["status"], d["attempts"]) for d in log] == [("retrying", 1)] * 4
    assert all(d["lastError"] and d["nextAttemptAt"] for d in log)
    assert registry.send_webhooks(now + timedelta(seconds=5)) == 0  # backoff: not yet due

    receiver.up()
    assert registry.send_webhooks(now + timedelta(seconds=11)) == 4
    assert registry.send_webhooks(now + timedelta(seconds=12)) == 0  # nothing twice

    # A restart: a new registry on the same database goes on where the old one stopped.
    registry.close()
    reopened = Registry(_settings(backend))
    try:
        with TestClient(create_app(_settings(backend), registry=reopened)) as again:
            _change(again, "third")
        later = datetime.now(UTC)
        assert reopened.send_webhooks(later) == 1
        assert reopened.send_webhooks(later + timedelta(hours=2)) == 0
        with TestClient(create_app(_settings(backend), registry=reopened)) as again:
            log = again.get(f"{HOOKS}/{hook['id']}/deliveries", headers=H).json()["deliveries"]
            feed = again.get("/internal/v1/events", headers=H).json()["events"]
    finally:
        reopened.close()

    bodies = _verified(receiver.received)
    ids = Counter(body["deliveryId"] for body in bodies)
    assert set(ids.values()) == {1}
    assert sorted(ids) == sorted(d["id"] for d in log)
    assert {d["status"] for d in log} == {"delivered"}
    # Every change after the registration, as the feed has it, and nothing else.
    expected = [e for e in feed if e["resourceId"] in (schema_id, cid())]
    assert len(expected) == 5
    assert sorted((b["event"]["cursor"], json.dumps(b["event"])) for b in bodies) == sorted(
        (e["cursor"], json.dumps(e)) for e in expected)
    assert {b["webhookId"] for b in bodies} == {hook["id"]}


def test_erased_content_is_never_sent_and_types_filter(
    local: tuple[Registry, Client], receiver: Receiver
) -> None:
    registry, client = local
    receiver.up()
    hook = _register(client, receiver.url, ["schema.created", "schema.erased"])
    body = placed(seed_create()) | {"key": "secret-project", "name": "Project MARKER"}
    created = client.post(f"{API}/schemas", json=body, headers=H)
    assert created.status_code == 201, created.text
    schema_id = created.json()["id"]
    erase = client.delete(f"{API}/schemas/{cid()}/{schema_id}/erase", headers=H)
    assert erase.status_code == 204, erase.text

    now = datetime.now(UTC)
    assert registry.send_webhooks(now) == 1  # the erase: the create's delivery went with it
    bodies = _verified(receiver.received)
    assert [(b["event"]["type"], b["event"]["changes"]) for b in bodies] == [
        ("schema.erased", ["Erased"])]
    log = client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=H).json()["deliveries"]
    assert [d["status"] for d in log] == ["delivered"]
    assert "MARKER" not in json.dumps(log) + json.dumps(bodies)
    registry.rebuild()  # rebuild = live: the outbox and its log come from the events
    assert client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=H).json()["deliveries"] == log
    assert registry.send_webhooks(now + timedelta(hours=2)) == 0


def test_two_processes_never_send_one_delivery_twice(
    local: tuple[Registry, Client], backend: Backend, receiver: Receiver
) -> None:
    registry, client = local
    receiver.up()
    _register(client, receiver.url)
    _change(client, "first")
    other = Registry(_settings(backend))  # a second process on the same database
    try:
        now = datetime.now(UTC)
        stale = other.sender.queries.due(now, 50)  # read before the first process sends
        assert len(stale) == 3
        assert registry.send_webhooks(now) == 3
        assert other.sender.attempt(stale, now) == 0
        # Even when the backoff of a failed attempt has run out, a finished one stays done.
        assert other.send_webhooks(now + timedelta(hours=2)) == 0
    finally:
        other.close()
    ids = Counter(body["deliveryId"] for body in _verified(receiver.received))
    assert len(ids) == 3 and set(ids.values()) == {1}


def test_a_delivery_erased_after_it_was_read_is_dropped_not_sent(
    local: tuple[Registry, Client], receiver: Receiver
) -> None:
    registry, client = local
    receiver.up()
    hook = _register(client, receiver.url, ["schema.created"])
    body = placed(seed_create()) | {"key": "secret-project", "name": "Project MARKER"}
    schema_id = client.post(f"{API}/schemas", json=body, headers=H).json()["id"]
    now = datetime.now(UTC)
    read_before_the_erase = registry.webhooks.due(now, 50)
    assert len(read_before_the_erase) == 1
    erase = client.delete(f"{API}/schemas/{cid()}/{schema_id}/erase", headers=H)
    assert erase.status_code == 204, erase.text
    assert registry.sender.attempt(read_before_the_erase, now) == 1  # attempted: dropped
    assert receiver.received == []
    log = client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=H).json()["deliveries"]
    assert log == []  # the erased change leaves no log row either
