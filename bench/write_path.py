"""Write path on PostgreSQL: ``POST …/schemas`` creates against raw one-row psycopg commits.

A throwaway PostgreSQL server (``tests/support/postgres.py``) holds one database. The real app
runs on it under granian with one worker. One keep-alive HTTP client creates schemas, each a
new one, in chunks of 100; the chunks alternate with chunks of 100 raw transactions over one
psycopg connection to the same database (INSERT one row of the same JSON text, COMMIT).
creates/s ÷ txns/s says how many single-row commits one API create costs. After the HTTP
rounds, with the server stopped, one create through ``Registry.create_schema`` (no HTTP) is
timed in-process on the same database.

    .venv/bin/python bench/write_path.py               # ~30 s
    .venv/bin/python bench/write_path.py --rounds 8 --chunk 200

Needs the PostgreSQL server binaries (``scripts/ensure-postgres``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import psycopg
from common import (
    API,
    FACTORY,
    SECRET,
    TENANT,
    Server,
    app_env,
    auth_headers,
    connector_id,
    connectors,
    granian,
    load_average,
    postgres_database,
    running,
    spread,
    stop_on_sigterm,
)

from domain.common import Actor
from registry.connectors import Access
from registry.service import Registry
from registry.settings import JwtSettings, Settings

SCRATCH = "bench_raw_writes"
IN_PROCESS_WARMUP = 10


SCHEMAS_PER_CONNECTOR = 20
"""Creates are spread over connectors this many to each: a connector holds tens of schemas."""
PLACEHOLDER = "cnn_" + "0" * 26
"""The connector id of bodies only sized, never sent (the raw INSERTs)."""


def document(prefix: str, number: int, connector_ids: list[str]) -> dict[str, Any]:
    """A create body whose key, hence schema id, no other request uses."""
    return {
        "name": "Custom REST API",
        "connectorId": connector_ids[number // SCHEMAS_PER_CONNECTOR % len(connector_ids)],
        "key": f"{prefix}-{number}",
        "entityType": "account",
        "fields": [
            {"name": "userId", "type": "string", "primary": True},
            {"name": "email", "type": "email"},
        ],
    }


class Creator:
    """Creates schemas over one keep-alive HTTP/1.1 connection, as a client library would."""

    def __init__(self, server: Server, auth: dict[str, str], connector_ids: list[str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.headers = {**auth, "Content-Type": "application/json"}
        self.numbers = count()
        self.connector_ids = connector_ids

    def create(self) -> None:
        """One POST; anything but 201 stops the bench."""
        body = json.dumps(document("http", next(self.numbers), self.connector_ids))
        self.connection.request("POST", API + "/schemas", body=body, headers=self.headers)
        response = self.connection.getresponse()
        answer = response.read()
        if response.status != 201:
            raise RuntimeError(f"POST {API}/schemas: {response.status} {answer.decode()}")

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


class RawWriter:
    """One-row transactions over one psycopg connection: the database's own floor."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(url, autocommit=False)
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {SCRATCH} (id bigserial PRIMARY KEY, body text)"
            )
        self.connection.commit()
        self.numbers = count()

    def write(self) -> None:
        """INSERT one row of a create body's size, then COMMIT."""
        body = json.dumps(document("raw", next(self.numbers), [PLACEHOLDER]))
        with self.connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {SCRATCH} (body) VALUES (%s)", (body,))
        self.connection.commit()

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def rate(operation: Callable[[], None], times: int) -> float:
    """Operations per second over ``times`` calls of ``operation``."""
    started = time.perf_counter()
    for _ in range(times):
        operation()
    return times / (time.perf_counter() - started)


@dataclass(frozen=True)
class Round:
    """One round: a chunk of creates and a chunk of raw transactions."""

    creates: float
    txns: float
    creates_first: bool

    @property
    def ratio(self) -> float:
        """creates/s over txns/s."""
        return self.creates / self.txns


def run_rounds(creator: Creator, raw: RawWriter, rounds: int, chunk: int) -> list[Round]:
    """A warm-up chunk of each, then ``rounds`` pairs of chunks in alternating order."""
    rate(creator.create, chunk)
    rate(raw.write, chunk)
    done: list[Round] = []
    for number in range(rounds):
        creates_first = number % 2 == 0
        if creates_first:
            creates, txns = rate(creator.create, chunk), rate(raw.write, chunk)
        else:
            txns, creates = rate(raw.write, chunk), rate(creator.create, chunk)
        done.append(Round(creates, txns, creates_first))
        first = "creates" if creates_first else "txns"
        print(
            f"round {number + 1} ({first} first): {creates:7.1f} creates/s   "
            f"{txns:7.1f} txns/s   ratio {creates / txns:.3f}",
            flush=True,
        )
    return done


def in_process_ms(url: str, data_dir: Path, times: int) -> float:
    """Mean ms of one ``Registry.create_schema`` (write + read-model catch-up), no HTTP.

    The HTTP create also writes an audit record and checks both credentials; this one does
    neither, so the gap between the two is the API layer's share.
    """
    settings = Settings(database_url=url, data_dir=data_dir, jwt=JwtSettings(secret=SECRET))
    registry = Registry(settings)
    access = Access(Actor(subject=TENANT, tenant=TENANT), roles=("admin",))
    connector_ids = [connector_id(registry, n) for n in range(times // SCHEMAS_PER_CONNECTOR + 2)]
    numbers = count()

    def create() -> None:
        registry.app.create_schema(access, document("inproc", next(numbers), connector_ids))

    try:
        rate(create, IN_PROCESS_WARMUP)
        return 1000.0 / rate(create, times)
    finally:
        registry.close()


def report(rounds: list[Round], in_process: float | None) -> None:
    """Median rates and ratio, and the mean time of one operation of each kind."""
    creates = statistics.median(r.creates for r in rounds)
    txns = statistics.median(r.txns for r in rounds)
    ratios = [r.ratio for r in rounds]
    print()
    print(f"creates/s ÷ txns/s, median of {len(rounds)} rounds (min-max): {spread(ratios, 3)}")
    print(f"one create costs as much as {1 / statistics.median(ratios):.0f} raw commits")
    print(
        f"median creates/s {creates:.1f} ({1000 / creates:.2f} ms each over HTTP), "
        f"median txns/s {txns:.1f} ({1000 / txns:.2f} ms each)"
    )
    if in_process is not None:
        print(f"Registry.create_schema in-process, no HTTP: {in_process:.2f} ms each")


def parse() -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (>= 3); median reported")
    parser.add_argument("--chunk", type=int, default=100, help="operations per chunk")
    parser.add_argument("--in-process", type=int, default=100, help="in-process creates; 0: skip")
    args = parser.parse_args()
    if args.rounds < 3 or args.chunk < 1 or args.in_process < 0:
        parser.error("need --rounds >= 3, --chunk >= 1, --in-process >= 0")
    return args


def measure_http(url: str, data_dir: Path, args: argparse.Namespace) -> list[Round]:
    """Start the app on the database, run the rounds over HTTP, stop the app again."""
    env = app_env(data_dir, url)
    auth = auth_headers(env)
    server = granian("real app", FACTORY, data_dir)
    with running([server], env):
        total = (args.rounds + 1) * args.chunk
        ids = connectors(env, total // SCHEMAS_PER_CONNECTOR + 1)
        creator, raw = Creator(server, auth, ids), RawWriter(url)
        try:
            return run_rounds(creator, raw, args.rounds, args.chunk)
        finally:
            creator.close()
            raw.close()


def main() -> int:
    """Start PostgreSQL, measure over HTTP, then in-process (app stopped), report."""
    stop_on_sigterm()
    args = parse()
    print(f"load average before: {load_average()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-write-") as tmp, postgres_database() as url:
        rounds = measure_http(url, Path(tmp), args)
        in_process = in_process_ms(url, Path(tmp), args.in_process) if args.in_process else None
    print(f"load average after: {load_average()}", file=sys.stderr)
    report(rounds, in_process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
