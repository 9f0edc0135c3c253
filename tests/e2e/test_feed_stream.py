"""The change feed as Server-Sent Events, from a real ``registry serve``, on both backends.

A stream sends what is there, then each change as it is committed (in this process or in
another one); a client that reconnects to a restarted server with ``Last-Event-ID`` gets the
changes made while the server was down, none twice and none missed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import ADMIN, API, AS_ADMIN, SECRET, headers, placed, seed_create
from tests.support.servers import environment, serving

STREAM = "/internal/v1/events/stream"
FEED = "/internal/v1/events"
DEADLINE = 30.0  # generous for a loaded 2-core machine; the stream answers long before
H = headers()


class Events:
    """The events of one open stream, read on demand (comments skipped)."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.iter_lines()

    def take(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` events, each its ``id`` and decoded ``data``."""
        events: list[dict[str, Any]] = []
        fields: dict[str, str] = {}
        deadline = time.monotonic() + DEADLINE
        while len(events) < count:
            assert time.monotonic() < deadline, f"only {events} within {DEADLINE}s"
            line = next(self._lines)
            if line == "":
                if "data" in fields:
                    events.append({"id": fields.get("id"), **json.loads(fields["data"])})
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        return events

    def rest(self) -> list[str]:
        """Every line until the server ends the stream, bar comments and blank lines."""
        return [line for line in self._lines if line and not line.startswith(":")]


@contextmanager
def stream(url: str, last_event_id: str | None = None) -> Iterator[Events]:
    """An open event stream of the server at ``url``."""
    extra = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with httpx.stream("GET", f"{url}{STREAM}", headers={**H, **extra},
                      timeout=httpx.Timeout(DEADLINE)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Events(response)


def _rename(url: str, schema_id: str, name: str) -> None:
    answer = httpx.put(f"{url}{API}/schemas/{schema_id}", headers=H,
                       json=placed(seed_create()) | {"name": name})
    assert answer.status_code == 200, answer.text


def test_a_stream_resumes_across_a_server_restart_without_gaps_or_duplicates(
    backend: Backend, registry: Registry, tmp_path: Path
) -> None:
    env = environment(backend.data_dir, SECRET, REGISTRY_DATABASE_URL=backend.url)
    created = registry.app.create_schema(AS_ADMIN, placed(seed_create()))
    schema_id = created.schema_id
    received: list[dict[str, Any]] = []
    with serving(env, logs=tmp_path) as (url, _), stream(url) as events:
        received += events.take(3)  # the connector, the schema, the connector's attach
        _rename(url, schema_id, "Through the server")  # saved by the serving process
        received += events.take(1)
        registry.app.update_schema(AS_ADMIN, created.id, placed(seed_create())
                                   | {"name": "From another process"}, None)
        received += events.take(1)  # seen by the server's follower, which wakes the stream
    # The server is gone: changes go on without it.
    registry.app.update_schema(AS_ADMIN, created.id, placed(seed_create())
                               | {"name": "While the server was down"}, None)
    started: list[subprocess.Popen[bytes]] = []
    with serving(env, logs=tmp_path, started=started) as (url, log), \
            stream(url, received[-1]["id"]) as events:
        received += events.take(1)
        _rename(url, schema_id, "After the restart")
        received += events.take(1)
        everything = httpx.get(f"{url}{FEED}", headers=H, params={"limit": 200}).json()
        # Told to stop, the server ends the open stream and exits cleanly.
        os.killpg(started[0].pid, signal.SIGTERM)
        assert events.rest() == []
        assert started[0].wait(timeout=DEADLINE) == 0, log.read_text()

    assert [e["id"] for e in received] == [e["cursor"] for e in everything["events"]]
    assert [{k: v for k, v in e.items() if k != "id"} for e in received] == everything["events"]
    names = [e["changes"] for e in received if e["resourceId"] == schema_id][1:]
    assert names == [[f"Renamed schema: {old} -> {new}"] for old, new in [
        ("Custom REST API", "Through the server"),
        ("Through the server", "From another process"),
        ("From another process", "While the server was down"),
        ("While the server was down", "After the restart")]]
    assert {e["changedBy"] for e in received[3:]} == {ADMIN.email}
