"""Indexing: a sync of N small records against raw batched inserts of the same rows.

On each backend (a SQLite file; a throwaway PostgreSQL server), one universal connector with
one schema runs a collector script that yields N records (no HTTP: the script makes them).
A sync goes through the real path — sandbox, pipe, validation against the schema, sealing,
the writer thread's upserts, progress events — timed from the job's claim to its end; the
baseline is N raw INSERTs of the same rows' JSON with the same driver, in batches of 500,
one transaction per batch, into a plain table (emptied first). records/s ÷ rows/s is the
ratio the bench reports (the target is 0.30), as the median of rounds of first syncs
(every record new: the primary-key hashes land all over the table's index; the records are
deleted before each) and of re-syncs (every record already stored, so upserts update), each
beside raw inserts timed next to it.
The raw batches commit the ordinary way (flushed), while a sync's record writes do not
wait for the disk (decision 34), so for information each round also times the raw inserts
committed like record writes and reports that ratio too. It also reports the sandbox's
start-up cost: a sync whose script yields nothing.

    .venv/bin/python bench/indexing.py                       # 100,000 records, 7 rounds
    .venv/bin/python bench/indexing.py --records 20000 --backend sqlite

Needs bubblewrap (scripts/ensure-bubblewrap) and, for PostgreSQL, the server binaries.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import SECRET, load_average, postgres_database, spread, stop_on_sigterm

from domain.common import Actor
from registry.connectors import Access
from registry.persistence import RECORDS_TABLE, records_table_statement
from registry.service import Registry
from registry.settings import JwtSettings, Settings
from registry.sync import SyncWorker

RAW_BATCH = 500
"""Rows per transaction of the raw inserts."""
SCRATCH = "bench_raw_records"
STORED_SCRATCH = "bench_raw_sealed"
ACCESS = Access(Actor("bench", "bench"), roles=("admin",))
SCHEMA = {
    "name": "Bench accounts", "entityType": "account",
    "fields": [{"name": "userId", "type": "string", "primary": True},
               {"name": "email", "type": "email"}, {"name": "n", "type": "integer"},
               {"name": "active", "type": "boolean"}],
}


def record(number: int) -> dict[str, Any]:
    """The record the script yields for ``number`` (the raw rows hold the same JSON)."""
    return {"userId": f"u{number}", "email": f"u{number}@example.com", "n": number,
            "active": number % 2 == 0}


def script(records: int) -> str:
    return (
        "def collect(ctx):\n"
        f"    for n in range({records}):\n"
        "        yield ('account', {'userId': f'u{n}', 'email': f'u{n}@example.com',\n"
        "                           'n': n, 'active': n % 2 == 0})\n"
    )


class Bench:
    """One backend: the registry with its connector, and the raw table beside it."""

    def __init__(self, url: str, data_dir: Path, records: int) -> None:
        settings = Settings(database_url=url, data_dir=data_dir,
                            jwt=JwtSettings(secret=SECRET))
        self.registry = Registry(settings)
        self.records = records
        app = self.registry.app
        connector = app.create_connector(ACCESS, {
            "name": f"bench-{records}", "type": "universal", "scope": "org",
            "config": {"baseUrl": "https://api.example.com",
                       "allowedHosts": ["api.example.com"]}})
        self.connector = connector.id
        app.create_schema(ACCESS, {**SCHEMA, "connectorId": connector.connector_id})
        app.save_script_version(ACCESS, connector.id, {"name": "full",
                                                       "script": script(records)})
        empty = app.create_connector(ACCESS, {
            "name": "bench-empty", "type": "universal", "scope": "org",
            "config": {"baseUrl": "https://api.example.com",
                       "allowedHosts": ["api.example.com"]}})
        self.empty = empty.id
        app.save_script_version(ACCESS, empty.id, {
            "name": "empty", "script": "def collect(ctx):\n    return\n    yield\n"})
        self.worker = SyncWorker(app, "bench")
        blob = "BLOB" if self.registry.db.dialect == "sqlite" else "BYTEA"
        with self.registry.db.transaction(write=True) as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {SCRATCH} (id TEXT PRIMARY KEY,"
                        " body TEXT NOT NULL)")
            cur.execute(records_table_statement(blob).replace(RECORDS_TABLE, STORED_SCRATCH))
        self.stored: list[tuple[Any, ...]] = []

    def keep_stored_rows(self) -> None:
        """The rows the last sync stored (sealed, keyed by HMAC), in the order it wrote them."""
        order = "rowid" if self.registry.db.dialect == "sqlite" else "ctid"
        with self.registry.db.transaction(write=False) as cur:
            self.stored = [tuple(row.values()) for row in cur.all(
                f"SELECT schema_uuid, key_hash, job_uuid, sealed FROM {RECORDS_TABLE}"
                f" ORDER BY {order}")]

    def forget_records(self) -> None:
        """Delete the stored records and reclaim their space (untimed: PostgreSQL's VACUUM,
        SQLite's checkpoint), so the next sync is a first one."""
        with self.registry.db.transaction(write=True) as cur:
            cur.execute(f"DELETE FROM {RECORDS_TABLE}")
        self.registry.db.reclaim_space([RECORDS_TABLE])

    def sync(self, connector: Any) -> float:
        """Seconds of one full sync, claim to end."""
        self.registry.app.request_sync(ACCESS, connector)
        started = time.perf_counter()
        state = self.worker.run_once()
        elapsed = time.perf_counter() - started
        if state is None or state.status != "succeeded":
            raise RuntimeError(f"the sync did not succeed: {state}")
        return elapsed

    def raw(self, *, bulk: bool = False, stored: bool = False) -> float:
        """Seconds of N inserts of the same rows, 500 a transaction: ordinary
        (flushed) commits, or with ``bulk`` the records' own (``Database.bulk_transaction``).
        With ``stored``, the rows are the ones the sync stored (:meth:`keep_stored_rows`),
        into a table like the records table."""
        if stored:
            table, rows = STORED_SCRATCH, self.stored
            insert = f"INSERT INTO {table} VALUES (%s,%s,%s,%s)"
        else:
            table = SCRATCH
            rows = [(f"u{n}", json.dumps(record(n), separators=(",", ":")))
                    for n in range(self.records)]
            insert = f"INSERT INTO {table} (id, body) VALUES (%s,%s)"
        with self.registry.db.transaction(write=True) as cur:
            cur.execute(f"DELETE FROM {table}")
        db = self.registry.db
        started = time.perf_counter()
        for start in range(0, len(rows), RAW_BATCH):
            with db.bulk_transaction() if bulk else db.transaction(write=True) as cur:
                cur.executemany(insert, rows[start:start + RAW_BATCH])
        return time.perf_counter() - started

    def close(self) -> None:
        self.registry.close()


def measure(name: str, url: str, data_dir: Path, args: argparse.Namespace) -> list[float]:
    """Rounds of a first sync (the schema's records deleted first: every record new) and a
    re-sync (every record already stored: upserts that update), each beside raw inserts
    timed next to it (in alternating order); prints them and answers the first syncs'
    median ratio followed by the re-syncs' ratios."""
    bench = Bench(url, data_dir, args.records)
    try:
        startup = statistics.median(bench.sync(bench.empty) for _ in range(5))
        firsts, ratios, alike, own_first, own = [], [], [], [], []
        for number in range(args.rounds):
            bench.forget_records()
            if number % 2 == 0:
                first, floor = bench.sync(bench.connector), bench.raw()
            else:
                floor, first = bench.raw(), bench.sync(bench.connector)
            if number == 0:
                bench.keep_stored_rows()
            own_first.append(bench.raw(stored=True, bulk=True) / first)
            firsts.append(floor / first)
            print(f"{name} first sync {number + 1}: {args.records / first:9.0f} records/s   "
                  f"{args.records / floor:9.0f} rows/s   ratio {firsts[-1]:.3f}", flush=True)
            if number % 2 == 1:
                synced, raw = bench.sync(bench.connector), bench.raw()
            else:
                raw, synced = bench.raw(), bench.sync(bench.connector)
            bulk = bench.raw(bulk=True)
            own.append(bench.raw(stored=True, bulk=True) / synced)
            rate, floor_rate = args.records / synced, args.records / raw
            ratios.append(rate / floor_rate)
            alike.append(rate / (args.records / bulk))
            print(f"{name} re-sync {number + 1}: {rate:9.0f} records/s   {floor_rate:9.0f} "
                  f"rows/s   ratio {ratios[-1]:.3f}   ({args.records / bulk:.0f} rows/s "
                  f"committed like records: ratio {alike[-1]:.3f})", flush=True)
        print(f"{name}: records/s ÷ rows/s, median of {args.rounds} (min-max): first syncs "
              f"{spread(firsts, 3)}; re-syncs {spread(ratios, 3)}; sandbox start-up per job "
              f"(empty sync, median of 5): {startup * 1000:.0f} ms")
        print(f"{name}: for information, re-syncs against raw inserts committed like record "
              f"batches (decision 34): {spread(alike, 3)}; against raw inserts of the rows "
              f"the sync stored (sealed, keyed by HMAC) into a table like the records table, "
              f"committed like record batches: first syncs {spread(own_first, 3)}, re-syncs "
              f"{spread(own, 3)}")
        return [statistics.median(firsts), *ratios]
    finally:
        bench.close()


def main() -> int:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--backend", choices=("both", "sqlite", "postgres"), default="both")
    args = parser.parse_args()
    if args.records < 1 or args.rounds < 1:
        parser.error("need --records >= 1 and --rounds >= 1")
    print(f"load average before: {load_average()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-indexing-") as tmp:
        if args.backend in ("both", "sqlite"):
            measure("sqlite", f"sqlite:///{Path(tmp) / 'registry.db'}", Path(tmp), args)
        if args.backend in ("both", "postgres"):
            with postgres_database() as url:
                measure("postgres", url, Path(tmp), args)
    print(f"load average after: {load_average()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
