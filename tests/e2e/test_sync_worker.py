"""A real ``registry worker`` process killed with SIGKILL in the middle of a job: the job is
requeued by the reaper and finishes on another worker; it never stays ``running``. Progress is
visible from another process while the job runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Response

from registry.records import RecordStore, primary_key
from registry.service import Registry
from registry.settings import ConnectionSettings
from registry.sync import SyncWorker
from tests.conftest import Backend
from tests.fixtures import SECRET, connector_body, seed_create
from tests.integration.test_connectors import OWNER
from tests.support.servers import REGISTRY, environment, local_server

DEADLINE = 60.0
MODE = {"mode": "slow"}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with local_server() as httpd:
        httpd.expect_request("/mode").respond_with_handler(
            lambda _: Response(json.dumps(MODE), content_type="application/json"))
        yield httpd.url_for("").rstrip("/")


def script(base: str) -> str:
    return (
        "import time\n"
        "def collect(ctx):\n"
        "    n = 0\n"
        "    while True:\n"
        f"        mode = ctx.http.get_json('{base}/mode')['mode']\n"
        "        n += 1\n"
        "        yield ('account', {'userId': f'u{n}', 'username': mode})\n"
        "        if mode == 'fast' and n >= 3:\n"
        "            return\n"
        "        if mode == 'slow':\n"
        "            time.sleep(0.05)\n"
    )


def wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)  # polling interval: the loop checks the job's state
    pytest.fail(f"no {what} within {DEADLINE}s")


def test_a_killed_worker_leaves_no_job_running(
    registry: Registry, backend: Backend, server: str, tmp_path: Path,
) -> None:
    MODE["mode"] = "slow"
    connector = registry.app.create_connector(OWNER, connector_body(config={
        "baseUrl": "https://api.example.com", "allowedHosts": ["127.0.0.1"]}))
    schema = registry.app.create_schema(OWNER, seed_create() | {
        "connectorId": connector.connector_id})
    registry.app.save_script_version(OWNER, connector.id, {"name": "v1",
                                                           "script": script(server)})
    job = registry.app.request_sync(OWNER, connector.id)

    log = tmp_path / "worker.log"
    env = environment(backend.data_dir, SECRET, REGISTRY_DATABASE_URL=backend.url,
                      REGISTRY_ALLOW_PRIVATE_TARGETS="true")
    with log.open("w") as output:
        worker = subprocess.Popen([*REGISTRY, "worker"], env=env, stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def progressing() -> bool:
            registry.follow()
            state = registry.app.sync_job(OWNER, connector.id, job.id)
            return state.status == "running" and state.progress.indexed >= 2

        wait_for(progressing, f"progress of the running job ({log})")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)

    registry.follow()
    assert registry.app.sync_job(OWNER, connector.id, job.id).status == "running"
    registry.reap(datetime.now(UTC) + timedelta(minutes=2))  # the heartbeat is long gone
    assert registry.app.sync_job(OWNER, connector.id, job.id).status == "queued"

    MODE["mode"] = "fast"
    finished = SyncWorker(registry.app, "worker-b",
                          outbound=ConnectionSettings(allow_private_targets=True)).run_once()
    assert finished is not None and finished.id == job.id
    assert finished.status == "succeeded" and finished.attempt == 2
    assert "requeued: its worker stopped answering" in finished.log
    record = RecordStore(registry.db).get(schema.id, primary_key({"userId": "u3"}, ["userId"]))
    assert record == {"userId": "u3", "username": "fast"}
