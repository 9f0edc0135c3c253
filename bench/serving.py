"""Requests/second of the real app under granian, uvicorn[standard] and plain uvicorn.

Every server runs the factory ``api.app:app_from_env`` with one worker on a free port of
127.0.0.1, over the same temporary SQLite database. One schema is created through the HTTP
API, then ``wrk`` loads ``GET /health`` and ``GET …/schemas/<id>`` (with a bearer token, plus
an ``X-API-Token`` when the app wants one) on each server in turn. Ratios against granian
(what ``registry serve`` uses) are paired within each round; the median round is reported.

    .venv/bin/python bench/serving.py              # ~1.5 minutes
    .venv/bin/python bench/serving.py --duration 5 --rounds 3 --connections 64

Needs ``pip install -e '.[bench]'`` (uvicorn[standard]) and ``wrk``; when ``wrk`` is missing
the script installs Debian's package with ``apt-get``.
"""

from __future__ import annotations

import argparse
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
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from domain.common import Actor
from registry.auth import issue_token
from registry.service import Registry
from registry.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
API = "/internal/v1/connector/universal"
SECRET = "bench-secret-0123456789-abcdefghijklmnop"
FACTORY = "api.app:app_from_env"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
MAX_FAILED = 0.01  # a measurement with more failed requests than this share is an error
SEED = {
    "name": "Accounts",
    "connectorId": "c1",
    "entityType": "account",
    "fields": [{"name": "userId", "type": "string", "primary": True}],
}


@dataclass
class Server:
    """One server under test: how to start it, and its process once started."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    results: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"


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


def servers(log_dir: Path) -> list[Server]:
    """The three configurations, each on its own free port, access logs off."""
    granian, uvicorn = venv_program("granian"), venv_program("uvicorn")
    made: list[Server] = []
    for name in ("granian", "uvicorn[standard]", "uvicorn h11/asyncio"):
        port = free_port()
        common = ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--factory"]
        if name == "granian":
            argv = [granian, "--interface", "asgi", *common, "--no-access-log", FACTORY]
        elif name == "uvicorn[standard]":
            loop = ["--loop", "uvloop", "--http", "httptools"]
            argv = [uvicorn, *common, *loop, "--no-access-log", "--log-level", "warning", FACTORY]
        else:
            loop = ["--loop", "asyncio", "--http", "h11"]
            argv = [uvicorn, *common, *loop, "--no-access-log", "--log-level", "warning", FACTORY]
        slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-")
        made.append(Server(name, argv, port, log_dir / f"{slug}.log"))
    return made


def start(server: Server, env: dict[str, str]) -> None:
    """Start the server in its own process group and wait until ``/health`` answers 200."""
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
                f"{server.name} exited with {server.process.returncode}:\n"
                + server.log_path.read_text(errors="replace")
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
def running(all_servers: list[Server], env: dict[str, str]) -> Iterator[None]:
    """Start every server, and stop them all on the way out (even on errors or Ctrl-C)."""
    try:
        for server in all_servers:
            start(server, env)
        yield
    finally:
        for server in all_servers:
            stop(server)


def api_token(env: dict[str, str]) -> str | None:
    """An ``X-API-Token`` for tenant ``bench``, issued in-process on the bench database.

    Only for versions of the app whose ``/internal`` routes want one besides the bearer JWT
    (``Registry.issue_api_token`` exists); answers None otherwise.
    """
    registry = Registry(Settings.from_env(env))
    try:
        issue = getattr(registry, "issue_api_token", None)
        if issue is None:
            return None
        _state, text = issue(Actor(subject="bench", tenant="bench"), "bench", "bench")
        return str(text)
    finally:
        registry.close()


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
    """What one wrk run measured."""

    rate: float
    requests: int
    failed: int


def wrk(
    program: str, url: str, headers: list[str], *, seconds: int, connections: int, threads: int
) -> Load:
    """One wrk run: requests/second, and how many requests failed (non-2xx or socket errors)."""
    argv = [program, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
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
    return Load(float(rate.group(1)), int(total.group(1)), failed)


def main() -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=2, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up before each")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is reported")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    args = parser.parse_args()

    program = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": f"sqlite:///{tmp}/registry.db",
            "REGISTRY_DATA_DIR": tmp,
            "REGISTRY_JWT_SECRET": SECRET,
            "PYTHONUNBUFFERED": "1",
        }
        # The admin role lets the seeding POST through where routes check roles.
        jwt = issue_token(SECRET, tenant="bench", subject="bench", roles=["admin"])
        auth = {"Authorization": f"Bearer {jwt}"}
        extra = api_token(env)
        if extra is not None:
            auth["X-API-Token"] = extra
            print(
                "this app version wants X-API-Token: issued one for tenant bench", file=sys.stderr
            )
        all_servers = servers(Path(tmp))
        with running(all_servers, env):
            first = all_servers[0]
            try:
                created = request("POST", first.base + API + "/schemas", auth, SEED)
            except RuntimeError as error:
                log = first.log_path.read_text(errors="replace")[-4000:]
                raise RuntimeError(f"{error}\n--- {first.name} log ---\n{log}") from None
            schema_id = str(created["id"])
            routes = {
                "/health": ("/health", []),
                "GET by id": (f"{API}/schemas/{schema_id}", [f"{k}: {v}" for k, v in auth.items()]),
            }
            for server in all_servers:  # every server sees the seeded schema
                got = request("GET", server.base + routes["GET by id"][0], auth)
                assert got["id"] == schema_id, got
            print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
            print(
                f"{len(all_servers)} servers, {args.rounds} round(s), {args.duration} s per "
                f"measurement after {args.warmup} s warm-up, wrk -t{args.threads} "
                f"-c{args.connections}",
                file=sys.stderr,
            )
            for round_no in range(args.rounds):
                # Rotate the order each round so slow drift does not favour one server.
                shift = round_no % len(all_servers)
                order = all_servers[shift:] + all_servers[:shift]
                for route, (path, headers) in routes.items():
                    for server in order:
                        url = server.base + path
                        options = {"connections": args.connections, "threads": args.threads}
                        if args.warmup > 0:
                            warm = wrk(program, url, headers, seconds=args.warmup, **options)
                            if warm.failed:
                                print(f"  warm-up: {warm.failed} failed requests", file=sys.stderr)
                        load = wrk(program, url, headers, seconds=args.duration, **options)
                        if load.failed > MAX_FAILED * load.requests:
                            raise RuntimeError(
                                f"{server.name} {route}: {load.failed} of {load.requests} "
                                f"requests failed; see {server.log_path}"
                            )
                        server.results.setdefault(route, []).append(load.rate)
                        server.failed[route] = server.failed.get(route, 0) + load.failed
                        print(
                            f"  round {round_no + 1}: {server.name:<20} {route:<10} "
                            f"{load.rate:10.0f} req/s  {load.failed} failed",
                            file=sys.stderr,
                        )
        print(f"load average at the end: {os.getloadavg()[0]:.2f}", file=sys.stderr)
        report(all_servers, list(routes))
    return 0


def report(all_servers: list[Server], routes: list[str]) -> None:
    """Print medians, the ratio against granian per route and by-id/health per server.

    Ratios are paired: computed inside each round (where the servers ran back to back),
    then the median over rounds is shown, with the lowest and highest round in brackets.
    """
    baseline = all_servers[0]
    rounds = len(baseline.results[routes[0]])
    print()
    print(f"| server | route | req/s (median) | vs {baseline.name} (min-max) | failed |")
    print("|---|---|---:|---:|---:|")
    for route in routes:
        for server in all_servers:
            rate = statistics.median(server.results[route])
            ratios = [server.results[route][i] / baseline.results[route][i] for i in range(rounds)]
            failed = server.failed.get(route, 0)
            print(f"| {server.name} | {route} | {rate:.0f} | {spread(ratios)} | {failed} |")
    print()
    print(f"| server | {routes[1]} / {routes[0]} (min-max) |")
    print("|---|---:|")
    for server in all_servers:
        by_id, health = server.results[routes[1]], server.results[routes[0]]
        print(f"| {server.name} | {spread([by_id[i] / health[i] for i in range(rounds)])} |")


def spread(ratios: list[float]) -> str:
    """``median (min-max)`` of some ratios."""
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


if __name__ == "__main__":
    sys.exit(main())
