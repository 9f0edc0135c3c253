"""Read path: ``GET …/schemas/{id}`` of the real app against bare Litestar answering the same.

The real app (the factory ``api.app:app_from_env``) and ``bench/bare_app.py`` each run under
granian with one worker on 127.0.0.1. The bare app answers the exact bytes and headers the
real one answered, with no authentication, guard or query, so req/s real ÷ req/s bare is the
share of the bare framework's rate that is left once the registry does its work. Both servers
are pinned to one CPU and ``wrk`` to another; each round measures both, back to back, in an
order that alternates (A B, B A, ...), and the ratio is taken inside each round.

    .venv/bin/python bench/read_path.py                # ~1 minute
    .venv/bin/python bench/read_path.py --rounds 4 --duration 5 --connections 64

Needs ``wrk`` (installed with apt-get when missing) and, for pinning, ``taskset``.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from common import (
    API,
    FACTORY,
    Load,
    Server,
    app_env,
    auth_headers,
    check_failed,
    connectors,
    ensure_wrk,
    granian,
    load_average,
    pinning,
    request,
    running,
    spread,
    stop_on_sigterm,
    wrk,
)

BARE_TARGET = "bench.bare_app:create"
BARE_ENV = "BENCH_BARE_RESPONSE"
CAPTURED = ("content-type", "etag", "cache-control")
SEED = {
    "name": "Custom REST API",
    "entityType": "account",
    "fields": [
        {"name": "userId", "type": "string", "primary": True},
        {"name": "email", "type": "email"},
    ],
}


@dataclass(frozen=True)
class Answer:
    """A response as the bare app must repeat it: body bytes and the headers that matter."""

    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Round:
    """One round: the real and the bare server's measurement, and which one ran first."""

    real: Load
    bare: Load
    real_first: bool

    @property
    def ratio(self) -> float:
        """Real req/s over bare req/s."""
        return self.real.rate / self.bare.rate


def fetch(url: str, headers: dict[str, str]) -> Answer:
    """One GET: the body and the ``CAPTURED`` headers (lower-cased names)."""
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as response:
        body = response.read()
        kept = {name: response.headers[name] for name in CAPTURED if name in response.headers}
    return Answer(body, kept)


def save(answer: Answer, path: Path) -> None:
    """Write the answer where ``bench/bare_app.py`` reads it."""
    encoded = base64.b64encode(answer.body).decode()
    path.write_text(json.dumps({"body": encoded, "headers": answer.headers}))


def check_same(bare: Answer, real: Answer) -> None:
    """The baseline only means something when it sends exactly what the real app sends."""
    if bare != real:
        raise RuntimeError(f"the bare app answers {bare!r}, the real app {real!r}")


def measure(program: str, server: Server, url: str, headers: list[str], args: Options) -> Load:
    """A warm-up run, then the measured run with latency percentiles; stops on failures."""
    if args.warmup > 0:
        warm = wrk(
            program,
            url,
            headers,
            seconds=args.warmup,
            connections=args.connections,
            threads=1,
            prefix=args.wrk_prefix,
        )
        if warm.failed:
            print(f"  {server.name} warm-up: {warm.failed} failed requests", file=sys.stderr)
    load = wrk(
        program,
        url,
        headers,
        seconds=args.duration,
        connections=args.connections,
        threads=1,
        latency=True,
        prefix=args.wrk_prefix,
    )
    check_failed(server.name, load, server.log_path)
    return load


@dataclass(frozen=True)
class Options:
    """The command line, plus the taskset prefix of wrk."""

    rounds: int
    duration: int
    warmup: int
    connections: int
    wrk_prefix: list[str]


def run_rounds(
    program: str, real: Server, bare: Server, path: str, auth: dict[str, str], args: Options
) -> list[Round]:
    """Measure both servers in every round, alternating which goes first (A B, B A, ...).

    Both get the same request, auth headers included, so only the work done differs.
    """
    headers = [f"{name}: {value}" for name, value in auth.items()]
    rounds: list[Round] = []
    for number in range(args.rounds):
        real_first = number % 2 == 0
        order = (real, bare) if real_first else (bare, real)
        loads = {s.name: measure(program, s, s.base + path, headers, args) for s in order}
        done = Round(loads[real.name], loads[bare.name], real_first)
        rounds.append(done)
        print_round(number + 1, done)
    return rounds


def print_round(number: int, done: Round) -> None:
    """One line per round: both rates, their ratio, and the real route's latencies."""
    real_ms = done.real.latency_ms or {}
    first = "real" if done.real_first else "bare"
    print(
        f"round {number} ({first} first): real {done.real.rate:8.0f} req/s   "
        f"bare {done.bare.rate:8.0f} req/s   ratio {done.ratio:.3f}   "
        f"real p50 {real_ms.get(50, 0):.2f} ms  p99 {real_ms.get(99, 0):.2f} ms",
        flush=True,
    )


def latency_line(name: str, loads: list[Load]) -> str:
    """Median p50 and p99 over the rounds, and the median of each round's p99/p50."""
    p50 = [load.latency_ms[50] for load in loads if load.latency_ms]
    p99 = [load.latency_ms[99] for load in loads if load.latency_ms]
    tail = [b / a for a, b in zip(p50, p99, strict=True)]
    return (
        f"{name}: p50 {statistics.median(p50):.2f} ms, p99 {statistics.median(p99):.2f} ms, "
        f"p99/p50 {spread(tail)}"
    )


def report(rounds: list[Round]) -> None:
    """The summary: median ratio with its range, and latency shape per server."""
    print()
    print(
        f"real / bare req/s, median of {len(rounds)} rounds (min-max): "
        f"{spread([r.ratio for r in rounds], 3)}"
    )
    print(
        f"real req/s median {statistics.median(r.real.rate for r in rounds):.0f}, "
        f"bare req/s median {statistics.median(r.bare.rate for r in rounds):.0f}"
    )
    print(latency_line("real latency", [r.real for r in rounds]))
    print(latency_line("bare latency", [r.bare for r in rounds]))


def parse(wrk_prefix: list[str]) -> Options:
    """The options; fewer than 3 rounds would make the median meaningless."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds (>= 3); median reported")
    parser.add_argument("--duration", type=int, default=3, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up before each")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    args = parser.parse_args()
    if args.rounds < 3 or args.duration < 1 or args.warmup < 0 or args.connections < 1:
        parser.error("need --rounds >= 3, --duration >= 1, --warmup >= 0, --connections >= 1")
    return Options(args.rounds, args.duration, args.warmup, args.connections, wrk_prefix)


def main() -> int:
    """Start both servers, capture the real answer, measure the rounds, print the summary."""
    stop_on_sigterm()
    server_prefix, wrk_prefix = pinning()
    args = parse(wrk_prefix)
    program = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-read-") as tmp:
        env = app_env(Path(tmp))
        auth = auth_headers(env)
        real = granian("real app", FACTORY, Path(tmp), prefix=server_prefix)
        bare = granian("bare litestar", BARE_TARGET, Path(tmp), prefix=server_prefix)
        captured = Path(tmp) / "answer.json"
        with running([real], env):
            created = request("POST", real.base + API + "/schemas", auth,
                              SEED | {"connectorId": connectors(env)[0]})
            path = f"{API}/schemas/{created['id']}"
            answer = fetch(real.base + path, auth)
            save(answer, captured)
            with running([bare], {**env, BARE_ENV: str(captured)}):
                check_same(fetch(bare.base + path, auth), answer)
                print(f"load average before: {load_average()}", file=sys.stderr)
                print(f"GET {path}: {len(answer.body)} bytes, {answer.headers}", file=sys.stderr)
                print(
                    f"{args.rounds} rounds, {args.warmup} s warm-up + {args.duration} s "
                    f"each, wrk -t1 -c{args.connections} --latency",
                    file=sys.stderr,
                )
                rounds = run_rounds(program, real, bare, path, auth, args)
        print(f"load average after: {load_average()}", file=sys.stderr)
    report(rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
