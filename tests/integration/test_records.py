"""Collected records on real SQLite and real PostgreSQL: sealed with their schema's key,
upserted by primary key, paged and filtered, and gone for good with their schema."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from domain.connectors.state import ConnectorState
from domain.schema import SchemaState
from projections.db import BULK_PRAGMAS, Cursor
from registry.persistence import RECORDS_TABLE
from registry.records import (
    LEGACY_TABLE,
    RecordStore,
    RecordWriter,
    SchemaKeyGoneError,
    Sealer,
    primary_key,
    upgrade_legacy_records,
)
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import seed_create
from tests.integration.test_connectors import OWNER, s3

MARK = "zebraQUAGGA"
"""In every record value, so a leak is easy to find."""


def under(state: ConnectorState, **changes: Any) -> dict[str, Any]:
    return seed_create() | {"connectorId": state.connector_id} | changes


def rows(*records: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(primary_key(r, ["id"]), r) for r in records]


def two_schemas(registry: Registry) -> tuple[ConnectorState, SchemaState, SchemaState]:
    """A connector with two schemas (entity types ``account`` and ``group``)."""
    connector = registry.app.create_connector(OWNER, s3())
    first = registry.app.create_schema(OWNER, under(connector))
    second = registry.app.create_schema(OWNER, under(connector, key="groups", name="Groups",
                                                     entityType="group"))
    return connector, first, second


def test_records_are_upserted_paged_filtered_and_sealed(
    registry: Registry, backend: Backend,
) -> None:
    connector = registry.app.create_connector(OWNER, s3())
    schema = registry.app.create_schema(OWNER, under(connector))
    store = RecordStore(registry.db)
    first_job, second_job = uuid.uuid4(), uuid.uuid4()
    people = [{"id": f"u{n}", "team": "a" if n % 2 else "b", "note": f"{MARK}{n}"}
              for n in range(7)]
    assert store.upsert(schema.id, first_job, rows(*people)) == 7
    changed = {"id": "u3", "team": "c", "note": f"{MARK}changed"}
    store.upsert(schema.id, second_job, rows(changed))  # the last write of a key wins
    assert store.get(schema.id, primary_key({"id": "u3"}, ["id"])) == changed
    assert store.get(schema.id, primary_key({"id": "nobody"}, ["id"])) is None
    assert store.count(schema.id) == 7

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = store.page(schema.id, limit=3, cursor=cursor)
        seen += page.records
        assert len(page.records) <= 3
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(r["id"] for r in seen) == [f"u{n}" for n in range(7)]
    team_a = store.page(schema.id, limit=2, where={"team": "a"})
    assert sorted(r["id"] for r in team_a.records) == ["u1", "u5"]
    assert team_a.next_cursor is None
    one = store.page(schema.id, limit=1, where={"team": "a"})
    assert one.next_cursor is not None
    other = store.page(schema.id, limit=1, where={"team": "a"}, cursor=one.next_cursor)
    assert sorted(r["id"] for r in one.records + other.records) == ["u1", "u5"]
    assert other.next_cursor is None

    dump = backend.dump()  # sealed: neither values nor primary keys in the clear
    assert MARK not in dump and '"u3"' not in dump

    assert store.forget_unseen(schema.id, second_job) == 6  # after a full sync by job 2
    assert [r["id"] for r in store.page(schema.id, limit=10).records] == ["u3"]


def test_an_erased_schema_takes_its_records_and_refuses_new_ones(
    registry: Registry, backend: Backend,
) -> None:
    connector, erased, kept = two_schemas(registry)
    store = RecordStore(registry.db)
    job = uuid.uuid4()
    store.upsert(erased.id, job, rows({"id": "gone", "note": f"{MARK}erased"}))
    store.upsert(kept.id, job, rows({"id": "stays", "note": "kept-OKAPI"}))

    registry.app.erase_schema(OWNER, connector.connector_id, erased.id)

    assert store.count(erased.id) == 0 and store.page(erased.id, limit=5).records == []
    assert store.get(erased.id, primary_key({"id": "gone"}, ["id"])) is None
    with pytest.raises(SchemaKeyGoneError):
        store.upsert(erased.id, job, rows({"id": "late", "note": f"{MARK}late"}))
    assert store.count(erased.id) == 0
    assert store.count(kept.id) == 1
    dump = backend.dump()
    assert MARK not in dump
    if backend.name == "sqlite":
        assert MARK.encode() not in backend.raw_files()


def test_a_composite_primary_key_is_one_key() -> None:
    assert primary_key({"a": 1, "b": "x", "c": 3}, ["a", "b"]) == '[1,"x"]'
    assert primary_key({"a": 1}, ["a"]) == "1"


def test_in_one_batch_the_last_write_of_a_key_wins(registry: Registry) -> None:
    connector = registry.app.create_connector(OWNER, s3())
    schema = registry.app.create_schema(OWNER, under(connector))
    store = RecordStore(registry.db)
    # The batch is written in key-hash order: of a key's writes, the last must still win.
    batch = [{"id": f"k{n % 3}", "n": n} for n in range(60)]
    assert store.upsert(schema.id, uuid.uuid4(), rows(*batch)) == 60
    for key in range(3):
        found = store.get(schema.id, primary_key({"id": f"k{key}"}, ["id"]))
        assert found == {"id": f"k{key}", "n": 57 + key}
    assert store.count(schema.id) == 3


def test_rows_sealed_with_another_key_are_never_written(registry: Registry) -> None:
    # A sync seals with the key its schema had when the run began; should the schema be
    # erased meanwhile (and one with its id created again), those rows are refused.
    connector = registry.app.create_connector(OWNER, s3())
    schema = registry.app.create_schema(OWNER, under(connector))
    store = RecordStore(registry.db)
    stale = Sealer(schema.id, os.urandom(32))
    with pytest.raises(SchemaKeyGoneError):
        store.store(stale, uuid.uuid4(), stale.seal(rows({"id": "x", "note": MARK})))
    assert store.count(schema.id) == 0
    current = store.sealer(schema.id)
    assert current is not None
    assert store.store(current, uuid.uuid4(), current.seal(rows({"id": "x"}))) == 1


def test_the_writer_stores_in_order_and_says_what_it_could_not(registry: Registry) -> None:
    connector, schema, erased = two_schemas(registry)
    store = RecordStore(registry.db)
    sealer, doomed = store.sealer(schema.id), store.sealer(erased.id)
    assert sealer is not None and doomed is not None
    registry.app.erase_schema(OWNER, connector.connector_id, erased.id)
    with RecordWriter(store, uuid.uuid4(), ahead=1) as writer:
        for n in range(5):  # more than ``ahead``: submit waits for the oldest write
            writer.submit(sealer, sealer.seal(rows(*[{"id": f"k{k}", "n": n}
                                                     for k in range(40)])))
            unfinished = [write for _, write in writer._pending if not write.done()]
            assert len(unfinished) <= 2  # one under way, ``ahead`` waiting
        writer.submit(doomed, doomed.seal(rows({"id": "late", "note": MARK})))
        stored, gone = writer.collect(wait=True)
        assert (stored, gone) == (200, [erased.id])
        assert writer.stored_keys(schema.id) == 40 and writer.stored_keys(erased.id) == 1
        assert writer.idle() and writer.collect() == (0, [])
        with pytest.raises((TypeError, IntegrityError)):  # any other failure reaches the run
            writer.submit(sealer, [("not a key hash", None)])  # type: ignore[list-item]
            writer.collect(wait=True)
    assert store.count(schema.id) == 40 and store.count(erased.id) == 0
    for k in range(40):  # the writes ran in the order submitted: the last one won
        assert store.get(schema.id, primary_key({"id": f"k{k}"}, ["id"])) == {
            "id": f"k{k}", "n": 4}


def test_a_bulk_transaction_leaves_the_connections_as_durable_as_it_found_them(
    registry: Registry, backend: Backend,
) -> None:
    db = registry.db

    def settings(cur: Cursor) -> tuple[Any, ...]:
        if backend.name == "sqlite":
            return tuple(next(iter((cur.one(f"PRAGMA {name}") or {}).values()))
                         for name in BULK_PRAGMAS)
        return ((cur.one("SHOW synchronous_commit") or {})["synchronous_commit"],)

    with db.transaction(write=True) as cur:
        ordinary = settings(cur)
    with db.bulk_transaction() as cur:
        assert settings(cur) == ((1, 16384, -65536) if backend.name == "sqlite"
                                 else ("off",))
    with pytest.raises(RuntimeError), db.bulk_transaction():
        raise RuntimeError("a failed batch")
    if backend.name == "sqlite":  # (the test PostgreSQL server commits asynchronously)
        assert ordinary == (2, 1000, -2000)
    for _ in range(3):  # whichever pooled connection comes next commits as it did before
        with db.transaction(write=True) as cur:
            assert settings(cur) == ordinary


def _legacy_table(registry: Registry, rows: list[tuple[str, str, str, bytes]]) -> None:
    """A records table of the first layout (ids as text), as databases made before the
    compact layout have it."""
    blob = "BLOB" if registry.db.dialect == "sqlite" else "BYTEA"
    with registry.db.transaction(write=True) as cur:
        cur.execute(f"CREATE TABLE {LEGACY_TABLE} (schema_uuid TEXT NOT NULL,"
                    f" key_hash TEXT NOT NULL, job_uuid TEXT NOT NULL, sealed {blob} NOT NULL,"
                    " PRIMARY KEY (schema_uuid, key_hash))")
        cur.executemany(f"INSERT INTO {LEGACY_TABLE} VALUES (%s, %s, %s, %s)", rows)


def _legacy_rows(sealer: Sealer, job: uuid.UUID, *records: dict[str, Any]
                 ) -> list[tuple[str, str, str, bytes]]:
    return [(str(sealer.schema_id), key_hash.hex(), str(job), value)
            for key_hash, value in sealer.seal(rows(*records))]


def test_records_of_the_first_layout_move_into_the_compact_table_once(
    registry: Registry, backend: Backend,
) -> None:
    connector, schema, other = two_schemas(registry)
    store = RecordStore(registry.db)
    sealer, other_sealer = store.sealer(schema.id), store.sealer(other.id)
    assert sealer is not None and other_sealer is not None
    old_job = uuid.uuid4()
    people = [{"id": f"u{n}", "note": f"{MARK}{n}"} for n in range(12)]
    _legacy_table(registry, _legacy_rows(sealer, old_job, *people)
                  + _legacy_rows(other_sealer, old_job, {"id": "g1", "note": "kept-OKAPI"}))
    store.upsert(schema.id, uuid.uuid4(), rows({"id": "u0", "note": "written since"}))

    assert upgrade_legacy_records(registry.db) == 13
    assert upgrade_legacy_records(registry.db) == 0  # done: the old table is gone
    with registry.db.read() as cur:
        names = [row["name"] for row in cur.all(
            "SELECT name FROM sqlite_master WHERE type = 'table'" if backend.name == "sqlite"
            else "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")]
    assert LEGACY_TABLE not in names and RECORDS_TABLE in names

    # Every moved record opens as before; a row written in the new layout was kept.
    assert store.get(schema.id, primary_key({"id": "u0"}, ["id"])) == {
        "id": "u0", "note": "written since"}
    assert store.get(schema.id, primary_key({"id": "u7"}, ["id"])) == people[7]
    assert sorted(r["id"] for r in store.page(schema.id, limit=20).records) == sorted(
        p["id"] for p in people)
    assert store.count(other.id) == 1
    # ... and is the schema's like any other: a full sync forgets it, an erase takes it.
    assert store.forget_unseen(other.id, uuid.uuid4()) == 1
    registry.app.erase_schema(OWNER, connector.connector_id, schema.id)
    assert store.count(schema.id) == 0
    assert MARK not in backend.dump()


def test_two_processes_starting_at_once_move_the_records_once(registry: Registry) -> None:
    connector = registry.app.create_connector(OWNER, s3())
    schema = registry.app.create_schema(OWNER, under(connector))
    store = RecordStore(registry.db)
    sealer = store.sealer(schema.id)
    assert sealer is not None
    other = Registry(registry.settings)  # a second process's registry on the same database
    try:
        _legacy_table(registry, _legacy_rows(sealer, uuid.uuid4(),
                                             *[{"id": f"u{n}"} for n in range(50)]))
        with ThreadPoolExecutor(max_workers=2) as pool:
            moved = sorted(pool.map(upgrade_legacy_records, [registry.db, other.db]))
    finally:
        other.close()
    assert moved == [0, 50]
    assert store.count(schema.id) == 50


def test_the_writer_stops_counting_keys_beyond_its_bound(registry: Registry) -> None:
    # A full sync skips the scan for unseen rows only when it knows how many keys it
    # stored: past the bound the writer no longer knows, and the scan runs.
    _, schema, _ = two_schemas(registry)
    store = RecordStore(registry.db)
    sealer = store.sealer(schema.id)
    assert sealer is not None
    store.upsert(schema.id, uuid.uuid4(), rows(*[{"id": f"old{k}"} for k in range(3)]))
    with RecordWriter(store, uuid.uuid4(), remember=10) as writer:
        writer.submit(sealer, sealer.seal(rows(*[{"id": f"k{k}"} for k in range(8)])))
        assert writer.stored_keys(schema.id) == 8
        writer.submit(sealer, sealer.seal(rows(*[{"id": f"k{k}"} for k in range(4, 12)])))
        assert writer.stored_keys(schema.id) is None
        writer.collect(wait=True)
        assert store.forget_unseen(schema.id, writer.job, seen=writer.stored_keys(
            schema.id)) == 3
    assert store.count(schema.id) == 12
