"""Real ``registry serve`` processes for tests that need more than the in-process app."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

REGISTRY = [sys.executable, "-m", "registry.cli"]
READY_DEADLINE = 60.0


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(data_dir: Path, secret: str, **variables: str) -> dict[str, str]:
    """The process environment without stray ``REGISTRY_*`` variables, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return env | {"REGISTRY_DATA_DIR": str(data_dir), "REGISTRY_JWT_SECRET": secret} | variables


@contextmanager
def serving(env: dict[str, str], *args: str, logs: Path, cwd: Path | None = None,
            port: int | None = None,
            started: list[subprocess.Popen[bytes]] | None = None) -> Iterator[tuple[str, Path]]:
    """A real ``registry serve`` up and answering /health; yields its URL and its log file
    (and appends its process to ``started``, for tests that signal it)."""
    port = port or free_port()
    log = logs / f"serve-{port}-{time.monotonic_ns()}.log"
    with log.open("w") as output:
        process = subprocess.Popen([*REGISTRY, "serve", "--port", str(port), *args], env=env,
                                   cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    if started is not None:
        started.append(process)
    try:
        _wait_healthy(process, url, log)
        yield url, log
    finally:
        # granian's workers are child processes: stop the whole group, not just the parent.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling interval, not synchronisation: the loop checks /health
    pytest.fail(f"server not healthy within {READY_DEADLINE}s: {log.read_text()}")


@contextmanager
def local_server() -> Iterator[HTTPServer]:
    """A real HTTP server on 127.0.0.1 (pytest-httpserver) standing in for a remote API;
    handlers answer any number of requests."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()
