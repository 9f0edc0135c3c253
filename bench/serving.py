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
import os
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    API,
    FACTORY,
    Server,
    app_env,
    auth_headers,
    check_failed,
    connectors,
    ensure_wrk,
    free_port,
    granian,
    request,
    running,
    spread,
    venv_program,
    wrk,
)

SEED = {
    "name": "Accounts",
    "entityType": "account",
    "fields": [{"name": "userId", "type": "string", "primary": True}],
}


@dataclass
class Measured(Server):
    """A server under test, with its rates and failures per route over the rounds."""

    results: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


def servers(log_dir: Path) -> list[Measured]:
    """The three configurations, each on its own free port, access logs off."""
    first = granian("granian", FACTORY, log_dir)
    made = [Measured(first.name, first.argv, first.port, first.log_path)]
    uvicorn = venv_program("uvicorn")
    for name, loop in (
        ("uvicorn[standard]", ["--loop", "uvloop", "--http", "httptools"]),
        ("uvicorn h11/asyncio", ["--loop", "asyncio", "--http", "h11"]),
    ):
        port = free_port()
        common = ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--factory"]
        quiet = ["--no-access-log", "--log-level", "warning"]
        argv = [uvicorn, *common, *loop, *quiet, FACTORY]
        slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-")
        made.append(Measured(name, argv, port, log_dir / f"{slug}.log"))
    return made


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
        env = app_env(Path(tmp))
        # The admin role lets the seeding POST through where routes check roles.
        auth = auth_headers(env)
        if "X-API-Token" in auth:
            print(
                "this app version wants X-API-Token: issued one for tenant bench", file=sys.stderr
            )
        all_servers = servers(Path(tmp))
        with running(all_servers, env):
            first = all_servers[0]
            created = request("POST", first.base + API + "/schemas", auth,
                              SEED | {"connectorId": connectors(env)[0]})
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
                        check_failed(f"{server.name} {route}", load, server.log_path)
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


def report(all_servers: list[Measured], routes: list[str]) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
