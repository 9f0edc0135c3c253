"""What the HTTP benchmarks share: servers on loopback, credentials, wrk, and ratios.

The scripts in ``bench/`` run as files (``.venv/bin/python bench/<script>.py``), so this module
is imported as ``common`` from their directory. Nothing happens at import time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from domain.common import Actor
from registry.auth import issue_token
from registry.connectors import Access
from registry.service import Registry
from registry.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
API = "/internal/v1/connector/universal"
SECRET = "bench-secret-0123456789-abcdefghijklmnop"
FACTORY = "api.app:app_from_env"
TENANT = "bench"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
MAX_FAILED = 0.01  # a measurement with more failed requests than this share is an error
LOG_TAIL = 4000


@dataclass
class Server:
    """One server under test: how to start it, and its process once started."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        """The end of the server's log, for error messages (the log dies with its temp dir)."""
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL:]
        except OSError:
            return ""


def venv_program(name: str) -> str:
    """A console script next to this interpreter (the venv), else one on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"{name} not found: run .venv/bin/pip install -e '.[bench]'")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def granian(
    name: str, target: str, log_dir: Path, *, prefix: Sequence[str] = (), factory: bool = True
) -> Server:
    """A 1-worker granian (ASGI, access log off) for ``target`` on a free loopback port.

    ``prefix`` goes in front of the command, e.g. ``taskset -c 0`` to pin the server; the
    worker process inherits the affinity.
    """
    port = free_port()
    argv = [
        *prefix,
        venv_program("granian"),
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--factory" if factory else "--no-factory",
        "--no-access-log",
        target,
    ]
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return Server(name, argv, port, log_dir / f"{slug}.log")


def app_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment of a server running the real app (SQLite in ``data_dir`` by default)."""
    return {
        **os.environ,
        "REGISTRY_DATABASE_URL": database_url or f"sqlite:///{data_dir}/registry.db",
        "REGISTRY_DATA_DIR": str(data_dir),
        "REGISTRY_JWT_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }


def ensure_wrk() -> str:
    """The path of ``wrk``, installing Debian's package with apt-get if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with apt-get", file=sys.stderr)
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            sys.exit("wrk is missing and apt-get needs root: run 'apt-get install wrk' as root")
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "wrk"]):
        subprocess.run(
            [*prefix, *command], env=env, check=True, timeout=300, stdout=subprocess.DEVNULL
        )
    found = shutil.which("wrk")
    if found is None:
        sys.exit("apt-get installed wrk but it is not on PATH")
    return found


def start(server: Server, env: dict[str, str]) -> None:
    """Start the server in its own process group and wait until ``/health`` answers 200.

    Any 200 on ``/health`` counts, so a server without that route must add one.
    """
    log = server.log_path.open("wb")
    server.process = subprocess.Popen(
        server.argv,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(server.base + "/health", timeout=1) as response,
        ):
            if response.status == 200:
                return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{server.name} not ready after {READY_TIMEOUT:.0f} s")
        time.sleep(0.05)  # polling interval; the deadline above bounds the wait


def stop(server: Server) -> None:
    """SIGTERM the server's process group, SIGKILL it if it has not exited in time."""
    process = server.process
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def running(all_servers: Sequence[Server], env: dict[str, str]) -> Iterator[None]:
    """Start every server, and stop them all on the way out (even on errors or Ctrl-C).

    On an error the end of each server's log goes to stderr first: the logs live in a
    temporary directory that is about to be deleted.
    """
    try:
        for server in all_servers:
            start(server, env)
        yield
    except Exception:
        for server in all_servers:
            print(f"--- {server.name} log ({server.log_path}) ---", file=sys.stderr)
            print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        for server in all_servers:
            stop(server)


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so ``finally`` blocks stop the servers as on Ctrl-C."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def api_token(env: dict[str, str]) -> str | None:
    """An ``X-API-Token`` for tenant ``bench``, issued in-process on the bench database."""
    registry = Registry(Settings.from_env(env))
    try:
        _state, text = registry.app.issue_api_token(
            Actor(subject=TENANT, tenant=TENANT), "bench", "bench"
        )
        return str(text)
    finally:
        registry.close()


def connectors(env: dict[str, str], count: int = 1) -> list[str]:
    """``cnn_`` ids of new org-wide connectors of tenant ``bench`` (schemas need one each),
    created in-process on the bench database before anything is measured."""
    registry = Registry(Settings.from_env(env))
    try:
        return [connector_id(registry, number) for number in range(count)]
    finally:
        registry.close()


def connector_id(registry: Registry, number: int = 0) -> str:
    """A new universal connector of tenant ``bench`` on an open registry: its ``cnn_`` id."""
    access = Access(Actor(subject=TENANT, tenant=TENANT), roles=("admin",))
    body = {"name": f"Bench connector {number} {os.urandom(4).hex()}", "type": "universal",
            "scope": "org",
            "config": {"baseUrl": "https://api.example.com",
                       "allowedHosts": ["api.example.com"]}}
    return registry.app.create_connector(access, body).connector_id


def auth_headers(env: dict[str, str]) -> dict[str, str]:
    """The headers every ``/internal`` request needs: an admin bearer JWT and an API token.

    The admin role lets every route through, so the headers do not depend on the route.
    """
    jwt = issue_token(SECRET, tenant=TENANT, subject=TENANT, roles=["admin"])
    headers = {"Authorization": f"Bearer {jwt}"}
    extra = api_token(env)
    if extra is not None:
        headers["X-API-Token"] = extra
    return headers


def request(
    method: str, url: str, headers: dict[str, str], body: object | None = None
) -> dict[str, object]:
    """One JSON request with the auth headers; answers the decoded body."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**headers, "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            decoded: dict[str, object] = json.loads(response.read())
            return decoded
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {url}: {error.code} {error.read().decode()}") from None


@dataclass(frozen=True)
class Load:
    """What one wrk run measured; latency percentiles (ms) only when asked for."""

    rate: float
    requests: int
    failed: int
    latency_ms: dict[int, float] | None = None


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk(
    program: str,
    url: str,
    headers: list[str],
    *,
    seconds: int,
    connections: int,
    threads: int,
    latency: bool = False,
    prefix: Sequence[str] = (),
) -> Load:
    """One wrk run: requests/second, and how many requests failed (non-2xx or socket errors).

    ``latency`` adds ``--latency`` and parses its 50/75/90/99 % lines; ``prefix`` goes in
    front of the command (``taskset -c 1`` to pin the load generator).
    """
    argv = [*prefix, program, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    if latency:
        argv.append("--latency")
    for header in headers:
        argv += ["-H", header]
    done = subprocess.run(
        [*argv, url], capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    out = done.stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if done.returncode != 0 or rate is None or total is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    failed = int(bad.group(1)) if bad else 0
    sockets = re.search(r"Socket errors:(.*)", out)
    if sockets:
        failed += sum(int(n) for n in re.findall(r"\d+", sockets.group(1)))
    percentiles = latency_distribution(out) if latency else None
    return Load(float(rate.group(1)), int(total.group(1)), failed, percentiles)


def latency_distribution(out: str) -> dict[int, float]:
    """The ``Latency Distribution`` block of wrk's output, as {percent: milliseconds}."""
    block = out.partition("Latency Distribution")[2]
    found = re.findall(r"^\s*(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", block, flags=re.MULTILINE)
    if not found:
        raise RuntimeError(f"no latency distribution in wrk's output:\n{out}")
    return {int(pct): float(value) * _UNITS_MS[unit] for pct, value, unit in found}


def check_failed(name: str, load: Load, log_path: Path) -> None:
    """Stop when more than ``MAX_FAILED`` of a measurement's requests failed."""
    if load.failed > MAX_FAILED * load.requests:
        raise RuntimeError(
            f"{name}: {load.failed} of {load.requests} requests failed (non-2xx or socket "
            f"errors); see {log_path}"
        )


def pinning() -> tuple[list[str], list[str]]:
    """``taskset`` prefixes for (servers, load generator): one CPU each, when possible.

    The first two CPUs this process may use (0 and 1 on most machines). Without ``taskset``
    or with fewer than two CPUs, both prefixes are empty and everything shares the CPUs.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    taskset = shutil.which("taskset")
    if taskset is None or len(cpus) < 2:
        why = "taskset not found" if taskset is None else "fewer than 2 CPUs available"
        print(f"not pinning servers and wrk to CPUs: {why}", file=sys.stderr)
        return [], []
    return [taskset, "-c", str(cpus[0])], [taskset, "-c", str(cpus[1])]


def spread(ratios: Sequence[float], digits: int = 2) -> str:
    """``median (min-max)`` of some ratios, with ``digits`` decimals."""
    low, mid, high = min(ratios), statistics.median(ratios), max(ratios)
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, which say how busy the machine was."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database on a throwaway PostgreSQL server, stopped on the way out."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # tests/ is not installed
    from tests.support.postgres import PostgresServer

    server = PostgresServer.start()
    try:
        yield server.create_database("bench")
    finally:
        server.stop()
