"""Projection cost: rebuild and synchronous catch-up, as ratios of the bare event-write rate.

For each backend (a temporary SQLite file; PostgreSQL when its server binaries are installed,
on a throwaway server from ``tests.support.postgres``):

1. **baseline**: create N schemas through ``SchemaRegistry`` (``registry.app``) without any
   catch-up: validation, encryption and the event insert only. One event per schema.
2. **rebuild**: ``projector.rebuild()`` replays the whole store into the read models.
   Reported as events/s of the rebuild over events/s of the baseline writes.
3. **create + catch-up**: ``Registry.create_schema`` (write, then synchronous catch-up, what
   every API write does), in chunks alternating with chunks of bare writes measured the same
   way (each bare chunk is projected, untimed, before the next full chunk). Reported as
   events/s of the full create over events/s of the bare writes of the same phase.

    .venv/bin/python bench/projection.py                  # SQLite N=2000, PostgreSQL N=1000
    .venv/bin/python bench/projection.py --backend sqlite --sqlite-n 500
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import connector_id

from domain.common import Actor
from registry.connectors import Access
from registry.service import Registry
from registry.settings import JwtSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789-abcdefghijklmnop"
ACTOR = Access(Actor(subject="bench", tenant="bench", email="bench@example.com"), ("admin",))
WARMUP = 20
CHUNK = 100


@dataclass
class Row:
    """One measured line: how many events in how many seconds, against which baseline."""

    backend: str
    measure: str
    events: int
    seconds: float
    baseline: str

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds


SCHEMAS_PER_CONNECTOR = 20
"""Creates are spread over connectors this many to each: a connector holds tens of schemas."""


def document(i: int, connector_ids: list[str]) -> dict[str, Any]:
    """The create body of schema number ``i`` (a distinct key each)."""
    return {
        "name": f"Accounts {i}",
        "connectorId": connector_ids[i // SCHEMAS_PER_CONNECTOR % len(connector_ids)],
        "entityType": f"account{i}",
        "fields": [
            {"name": "userId", "type": "string", "primary": True},
            {"name": "email", "type": "email"},
            {"name": "active", "type": "boolean"},
        ],
    }


def stored(registry: Registry) -> int:
    """The number of the last stored event (the application sequence)."""
    return int(registry.app.recorder.max_notification_id() or 0)


def timed(registry: Registry, write: Callable[[], object], count: int) -> tuple[int, float]:
    """Run ``write`` ``count`` times; answers (events stored, seconds)."""
    before = stored(registry)
    started = time.perf_counter()
    for _ in range(count):
        write()
    seconds = time.perf_counter() - started
    return stored(registry) - before, seconds


def measure(backend: str, registry: Registry, n: int) -> list[Row]:
    """The three measurements on one empty database."""
    counter = iter(range(10**9))
    ids = [connector_id(registry, k) for k in range((n + WARMUP) // SCHEMAS_PER_CONNECTOR + 2)]

    def bare() -> object:
        return registry.app.create_schema(ACTOR, document(next(counter), ids))

    def full() -> object:
        return registry.app.create_schema(ACTOR, document(next(counter), ids))

    # Warm-up: first connections, validator and cipher set-up; projected, untimed.
    for _ in range(WARMUP):
        full()

    # 1. Baseline: N bare writes, no catch-up.
    events, seconds = timed(registry, bare, n)
    base = Row(backend, "bare writes (baseline)", events, seconds, "")
    print(f"  {backend}: {events} bare writes in {seconds:.2f} s", file=sys.stderr)

    # 2. Rebuild everything stored so far (warm-up + baseline events).
    started = time.perf_counter()
    position = registry.rebuild()
    seconds = time.perf_counter() - started
    rebuilt = Row(backend, "projector.rebuild()", position, seconds, base.measure)
    print(f"  {backend}: rebuilt {position} events in {rebuilt.seconds:.2f} s", file=sys.stderr)
    with registry.db.transaction(write=False) as cur:
        row = cur.one("SELECT count(*) AS n FROM registry_schemas")
    assert row is not None and int(row["n"]) == WARMUP + n, (row, WARMUP + n)

    # 3. Full creates, in chunks alternating with bare chunks (same store size, same drift).
    bare_events = full_events = 0
    bare_seconds = full_seconds = 0.0
    for chunk in range(max(1, n // CHUNK // 2)):
        size = min(CHUNK, n)
        e, s = timed(registry, bare, size)
        bare_events, bare_seconds = bare_events + e, bare_seconds + s
        registry.projector.catch_up()  # untimed: the full chunk starts caught up
        e, s = timed(registry, full, size)
        full_events, full_seconds = full_events + e, full_seconds + s
        assert registry.projector.position() == stored(registry), chunk
    paired = Row(backend, "bare writes (alternating)", bare_events, bare_seconds, "")
    created = Row(backend, "create_schema + catch-up", full_events, full_seconds, paired.measure)
    print(f"  {backend}: {full_events} full creates in {full_seconds:.2f} s", file=sys.stderr)
    return [base, rebuilt, paired, created]


@contextmanager
def sqlite_url(tmp: Path) -> Iterator[str]:
    """A fresh SQLite file."""
    yield f"sqlite:///{tmp}/registry.db"


@contextmanager
def postgres_url() -> Iterator[str | None]:
    """A fresh database on a throwaway PostgreSQL server, or None when none can start."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # tests/ is not installed
    from tests.support.postgres import PostgresError, PostgresServer

    try:
        server = PostgresServer.start()
    except PostgresError as error:
        print(f"  postgres: skipped ({error})", file=sys.stderr)
        yield None
        return
    try:
        yield server.create_database("bench")
    finally:
        server.stop()


def run(backend: str, n: int) -> list[Row]:
    """Measure one backend on a new, empty database."""
    with tempfile.TemporaryDirectory(prefix="bench-projection-") as tmp:
        source = sqlite_url(Path(tmp)) if backend == "sqlite" else postgres_url()
        with source as url:
            if url is None:
                return []
            settings = Settings(database_url=url, data_dir=Path(tmp),
                                jwt=JwtSettings(secret=SECRET))
            registry = Registry(settings)
            try:
                return measure(backend, registry, n)
            finally:
                registry.close()


def report(rows: list[Row]) -> None:
    """Print the table: rates, and each ratio against its baseline of the same backend."""
    print()
    print("| backend | measure | events | s | events/s | ratio | against |")
    print("|---|---|---:|---:|---:|---:|---|")
    for row in rows:
        ratio, against = "1.00", "(baseline)"
        if row.baseline:
            base = next(r for r in rows if r.backend == row.backend and r.measure == row.baseline)
            ratio, against = f"{row.rate / base.rate:.2f}", row.baseline
        print(
            f"| {row.backend} | {row.measure} | {row.events} | {row.seconds:.2f} "
            f"| {row.rate:.0f} | {ratio} | {against} |"
        )


def main() -> int:
    """Parse the options, measure each backend, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--sqlite-n", type=int, default=2000, help="schemas written on SQLite")
    parser.add_argument("--postgres-n", type=int, default=1000, help="schemas on PostgreSQL")
    args = parser.parse_args()
    rows: list[Row] = []
    if args.backend in ("sqlite", "all"):
        rows += run("sqlite", args.sqlite_n)
    if args.backend in ("postgres", "all"):
        rows += run("postgres", args.postgres_n)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
