"""Readiness (``/ready``), request ids on every response, and the log format."""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from domain.audit import AuditRecord
from registry.logs import REQUEST_ID, configure_logging
from registry.service import Registry
from tests.fixtures import API, headers, placed, seed_create

PROBLEMS = "https://connector-schema-registry.dev/problems/"
GENERATED = re.compile(r"[0-9a-f]{32}")


def _store_unprojected(registry: Registry, count: int) -> None:
    """Store audit events the way another process would, without updating the read models."""
    events: list[Any] = []
    for n in range(count):
        record = AuditRecord.record(tenant="acme", authenticated=True, subject=f"s{n}",
                                    email=None, app_id=None, method="GET", route="/x",
                                    schema_id=None, status=200, outcome="success")
        events.extend(record.collect_events())
    stored = [registry.app.mapper.to_stored_event(event) for event in events]
    registry.app.recorder.insert_events(stored)


def test_ready_answers_200_with_the_lag(client: TestClient) -> None:  # type: ignore[type-arg]
    created = client.post(f"{API}/schemas", json=placed(seed_create()), headers=headers())
    assert created.status_code == 201
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["lag"] == 0 and body["maxLag"] == 1000
    assert body["position"] >= 1  # the test's API token was issued through the registry


def test_ready_answers_503_with_the_lag_when_read_models_fall_behind(
    client: TestClient, registry: Registry  # type: ignore[type-arg]
) -> None:
    registry.settings = replace(registry.settings, ready_max_lag=2)
    lagging_client = client
    _store_unprojected(registry, 2)
    assert lagging_client.get("/ready").json()["lag"] == 2  # at the limit: still ready
    _store_unprojected(registry, 1)
    response = lagging_client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "retry-after" in response.headers
    body = response.json()
    assert body["type"] == PROBLEMS + "not-ready"
    assert body["lag"] == 3 and body["maxLag"] == 2
    assert "3 events behind" in body["detail"]
    registry.follow()
    assert lagging_client.get("/ready").json() | {"position": 0} == {
        "status": "ready", "lag": 0, "position": 0, "maxLag": 2}


def test_a_sane_request_id_is_echoed(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/health", headers={"X-Request-Id": "trace-1.A_b"})
    assert response.headers["x-request-id"] == "trace-1.A_b"
    long = "a" * 128
    assert client.get("/health", headers={"X-Request-Id": long}).headers["x-request-id"] == long


@pytest.mark.parametrize("sent", ["", "a" * 129, "has space", "semi;colon", "ünïcode",
                                  "line\\nbreak", "<script>"])
def test_any_other_request_id_is_replaced_by_a_new_one(
    client: TestClient, sent: str  # type: ignore[type-arg]
) -> None:
    response = client.get("/health", headers={"X-Request-Id": sent.encode("utf-8")})
    assert response.status_code == 200
    assert GENERATED.fullmatch(response.headers["x-request-id"])


def test_each_request_without_an_id_gets_its_own(client: TestClient) -> None:  # type: ignore[type-arg]
    first = client.get("/health").headers["x-request-id"]
    second = client.get("/ready").headers["x-request-id"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/no/such/route", 404),
    ("DELETE", "/health", 405),
    ("GET", f"{API}/schemas", 401),
    ("GET", f"{API}/schemas/sch_00000000000000000000000000", 404),
])
def test_problems_carry_the_request_id(
    client: TestClient, method: str, path: str, status: int  # type: ignore[type-arg]
) -> None:
    auth = dict(headers()) if status != 401 else {}
    response = client.request(method, path, headers={**auth, "X-Request-Id": "req-42"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "req-42"
    assert response.json()["requestId"] == "req-42"


def test_log_lines_are_json_with_the_request_id_and_no_credentials(
    client: TestClient, registry: Registry  # type: ignore[type-arg]
) -> None:
    stream = io.StringIO()
    handler = configure_logging(stream, json_lines=True)
    seen: list[str | None] = []
    probe = logging.getLogger("registry.test")

    def note(_: Any) -> None:  # logs from inside the request, like registry code does
        seen.append(REQUEST_ID.get())
        probe.warning("listener saw a write")

    registry.app.listeners.append(note)
    try:
        auth = dict(headers())
        wrong = {**auth, "X-API-Token": auth["X-API-Token"][:-4] + "AAAA"}
        refused = client.post(f"{API}/schemas", json={"name": "x"}, headers=wrong)
        assert refused.status_code == 401
        failed = client.post(f"{API}/schemas", json={"name": "x"}, headers=auth)
        assert failed.status_code == 422
        document = placed(seed_create())  # its connector: one more write outside requests
        done = client.post(f"{API}/schemas", json=document,
                           headers={**auth, "X-Request-Id": "log-1"})
        assert done.status_code == 201
    finally:
        registry.app.listeners.remove(note)
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line["logger"] == "registry.test"]
    # One line per write: the token issue (outside requests), the 401's audit record, the
    # token's first use and the 422's audit record, the connector (outside requests), and the
    # create saved with its own audit record, each carrying the id of the request it was made
    # in.
    assert [line["request_id"] for line in mine] == seen
    assert len(seen) == 6 and seen[0] is None and seen[4] is None and seen[-1] == "log-1"
    assert None not in seen[1:4] + seen[5:] and len(set(seen[1:4] + seen[5:])) == 3
    assert set(mine[0]) >= {"time", "level", "logger", "message", "request_id"}
    text = stream.getvalue()
    for secret in (auth["Authorization"].removeprefix("Bearer "), auth["X-API-Token"],
                   wrong["X-API-Token"]):
        assert secret not in text
