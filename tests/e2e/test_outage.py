"""A PostgreSQL outage, end to end: fast 503s, one log line each way, recovery, nothing torn.

The test runs its own PostgreSQL server (not the session's shared one), crashes it while the
app is serving, and starts it again on the same port.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from api.app import create_app
from registry.logs import configure_logging
from registry.service import Registry
from registry.settings import JwtSettings, Settings
from tests.fixtures import API, SECRET, Credentials, devices, headers, placed, seed_create
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres
FAST = 2.0
RECOVERY = 5.0
PROBLEMS = "https://connector-schema-registry.dev/problems/"


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone: it is crashed and restarted."""
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """The process's log, as ``registry serve`` writes it (JSON lines)."""
    stream = io.StringIO()
    handler = configure_logging(stream, json_lines=True)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _read_models(registry: Registry) -> dict[str, list[dict[str, Any]]]:
    with registry.db.transaction(write=False) as cur:
        return {
            table: cur.all(f"SELECT * FROM {table} ORDER BY 1, 2")
            for table in ("registry_schemas", "registry_schema_versions", "registry_api_tokens")
        }


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _until_ok(call: Callable[[], httpx.Response], deadline: float) -> httpx.Response:
    while True:
        response = call()
        if response.status_code == 200:
            return response
        assert time.monotonic() < deadline, f"still failing: {response.status_code} {response.text}"
        time.sleep(0.05)  # back-off between polls, bounded by the deadline


def test_an_outage_answers_503_at_once_and_the_registry_recovers(
    own_server: PostgresServer, tmp_path: Path, log_output: io.StringIO
) -> None:
    # The app follows (as served): its follower thread must not spam the log either.
    settings = Settings(database_url=own_server.create_database(), data_dir=tmp_path,
                        jwt=JwtSettings(secret=SECRET))
    registry = Registry(settings)
    Credentials.use(registry)
    try:
        app = create_app(settings, registry=registry, follow=True)
        with TestClient(app, raise_server_exceptions=False) as client:
            auth = dict(headers())
            created = client.post(f"{API}/schemas", json=placed(seed_create()), headers=auth)
            assert created.status_code == 201, created.text
            one = f"{API}/schemas/{created.json()['id']}"
            assert client.get(one, headers=auth).status_code == 200

            fleet, renamed = placed(devices()), placed(seed_create()) | {"name": "x"}
            own_server.halt()
            calls = {
                "GET": lambda: client.get(one, headers=auth),
                "POST": lambda: client.post(f"{API}/schemas", json=fleet, headers=auth),
                "PUT": lambda: client.put(one, json=renamed, headers=auth),
                "GET list": lambda: client.get(f"{API}/schemas", headers=auth),
            }
            for name, call in calls.items():
                response, elapsed = _timed(call)
                print(f"{name} while down: {response.status_code} in {elapsed:.3f} s")
                assert response.status_code == 503, (name, response.text)
                assert response.json()["type"] == PROBLEMS + "database-unavailable"
                assert int(response.headers["retry-after"]) >= 1
                assert response.json()["requestId"] == response.headers["x-request-id"]
                assert elapsed <= FAST, (name, elapsed)
            assert client.get("/health").status_code == 200
            not_ready = client.get("/ready")
            assert not_ready.status_code == 503
            assert not_ready.json()["type"] == PROBLEMS + "not-ready"

            records = _records(log_output)
            assert [r["message"] for r in records if r["message"].startswith("database down")
                    ] == [next(r["message"] for r in records
                               if r["message"].startswith("database down"))]
            assert not [r for r in records if "traceback" in r], records
            text = log_output.getvalue()
            assert auth["Authorization"].removeprefix("Bearer ") not in text
            assert auth["X-API-Token"] not in text

            own_server.resume()
            accepting = time.monotonic()
            assert _until_ok(calls["GET"], accepting + RECOVERY).json()["version"] == 1
            print(f"recovered {time.monotonic() - accepting:.3f} s after PostgreSQL accepted")
            assert calls["POST"]().status_code == 201  # the POST made while down left nothing
            assert client.get("/ready").status_code == 200
            backs = [r for r in _records(log_output) if r["message"].startswith("database back")]
            assert len(backs) == 1

        live = _read_models(registry)
        registry.rebuild()
        assert _read_models(registry) == live
    finally:
        Credentials.use(None)
        registry.close()
