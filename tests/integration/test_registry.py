"""The application and its read models on real SQLite and real PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from domain.common import Actor
from domain.errors import (
    ConcurrentWriteError,
    SchemaAlreadyExistsError,
    SchemaErasedError,
    SchemaNotFoundError,
    SchemaValidationError,
    StaleVersionError,
)
from domain.schema import Schema
from registry.connectors import Access
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import ADMIN, AS_ADMIN, cid, devices, placed, seed_create, with_marker


def read_models(registry: Registry) -> dict[str, list[dict[str, Any]]]:
    with registry.db.transaction(write=False) as cur:
        return {
            table: cur.all(f"SELECT * FROM {table} ORDER BY 1, 2")
            for table in ("registry_schemas", "registry_schema_versions",
                          "registry_schema_timeline", "registry_connectors",
                          "registry_connector_versions")
        }


def test_commands_answer_after_the_read_models_show_them(registry: Registry) -> None:
    state = registry.app.create_schema(AS_ADMIN, placed(seed_create()))
    record = registry.queries.get("acme", state.id)
    assert record is not None and record.revision == 1
    document = placed(seed_create())
    document["fields"].append({"name": "department", "type": "string"})
    registry.app.update_schema(AS_ADMIN, state.id, document, if_match={1})
    record = registry.queries.get("acme", state.id)
    assert record is not None and record.revision == 2
    assert registry.projector.position() == registry.app.recorder.max_notification_id()


def test_invalid_commands_write_nothing(registry: Registry) -> None:
    state = registry.app.create_schema(AS_ADMIN, placed(seed_create()))
    elsewhere = cid("elsewhere")
    foreign = cid("theirs", tenant="other-tenant")
    cid("mdm-42")  # the connector of devices(), made before counting
    before = registry.app.recorder.max_notification_id()
    bad = placed(seed_create())
    bad["fields"][0]["primary"] = "yes"
    failing = [
        (SchemaValidationError, lambda: registry.app.update_schema(AS_ADMIN, state.id, bad, None)),
        (SchemaValidationError, lambda: registry.app.update_schema(
            AS_ADMIN, state.id, {**placed(seed_create()), "connectorId": elsewhere}, None)),
        (StaleVersionError,
         lambda: registry.app.update_schema(AS_ADMIN, state.id, placed(devices()), {7})),
        (SchemaAlreadyExistsError, lambda: registry.app.create_schema(
            AS_ADMIN, placed(seed_create()) | {"name": "Other"})),
        (SchemaValidationError, lambda: registry.app.create_schema(
            AS_ADMIN, seed_create() | {"connectorId": foreign})),
        (SchemaValidationError, lambda: registry.app.create_schema(AS_ADMIN, seed_create())),
        (SchemaNotFoundError,
         lambda: registry.app.delete_schema(AS_ADMIN, elsewhere, state.id)),
        (SchemaNotFoundError, lambda: registry.app.erase_schema(
            Access(Actor("x", "other-tenant"), ("admin",)), foreign, state.id)),
    ]
    for error, command in failing:
        with pytest.raises(error):
            command()
    assert registry.app.recorder.max_notification_id() == before


def test_concurrent_writers_never_lose_an_update(registry: Registry) -> None:
    state = registry.app.create_schema(AS_ADMIN, placed(seed_create()))
    first = registry.app.repository.get(state.id)
    second = registry.app.repository.get(state.id)
    assert isinstance(first, Schema) and isinstance(second, Schema)
    renamed = placed(seed_create()) | {"name": "First writer"}
    other = placed(seed_create()) | {"name": "Second writer"}
    from domain.model import parse_content

    first.replace(ADMIN, parse_content(renamed))
    second.replace(ADMIN, parse_content(other))
    registry.app._save(first)
    with pytest.raises(ConcurrentWriteError):
        registry.app._save(second)
    registry.projector.catch_up()
    record = registry.queries.get("acme", state.id)
    assert record is not None and record.content is not None
    assert record.content.name == "First writer"


def test_racing_threads_each_get_a_version_or_a_conflict(registry: Registry) -> None:
    state = registry.app.create_schema(AS_ADMIN, placed(seed_create()))
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def rename(index: int) -> None:
        barrier.wait()
        try:
            registry.app.update_schema(
                AS_ADMIN, state.id, placed(seed_create()) | {"name": f"n{index}"}, {1})
            outcomes.append("ok")
        except (ConcurrentWriteError, StaleVersionError):
            outcomes.append("conflict")

    threads = [threading.Thread(target=rename, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1
    history = registry.queries.history("acme", state.id)
    assert [e.version for e in history] == [2, 1]


def test_rebuild_gives_exactly_the_live_state(registry: Registry) -> None:
    kept = registry.app.create_schema(AS_ADMIN, placed(devices()))
    gone = registry.app.create_schema(AS_ADMIN, placed(seed_create()))
    registry.app.update_schema(AS_ADMIN, kept.id, placed(devices()) | {"name": "Fleet"}, None)
    registry.app.delete_schema(AS_ADMIN, cid('mdm-42'), kept.id)
    registry.app.restore_schema(AS_ADMIN, cid('mdm-42'), kept.id)
    registry.app.erase_schema(AS_ADMIN, cid(), gone.id)
    registry.app.create_schema(AS_ADMIN, placed(seed_create()) | {"name": "Back again"})
    live = read_models(registry)
    assert registry.rebuild() == registry.app.recorder.max_notification_id()
    assert read_models(registry) == live


def test_read_models_resume_after_a_restart(backend: Backend, registry: Registry) -> None:
    state = registry.app.create_schema(AS_ADMIN, placed(seed_create()))
    registry.close()
    reopened = Registry(backend.settings())
    try:
        reopened.app.update_schema(
            AS_ADMIN, state.id,
            devices() | {"connectorId": cid(), "key": "account", "compatibility": "NONE"}, None)
        history = reopened.queries.history("acme", state.id)
        assert [e.version for e in history] == [2, 1]
    finally:
        reopened.close()


def test_erase_leaves_no_trace_in_a_full_dump(backend: Backend, registry: Registry) -> None:
    erased = registry.app.create_schema(AS_ADMIN, placed(with_marker("ZEBRAXQ")))
    kept = registry.app.create_schema(AS_ADMIN, placed(with_marker("OKAPIWV")))
    changed = placed(with_marker("ZEBRAXQ"))
    changed["fields"].append({"name": "extra_ZEBRAXQ", "type": "string",
                              "description": "more ZEBRAXQ"})
    registry.app.update_schema(AS_ADMIN, erased.id, changed, None)
    registry.app.delete_schema(AS_ADMIN, cid("marker-connector"), erased.id)
    assert "ZEBRAXQ" in backend.dump()

    registry.app.erase_schema(AS_ADMIN, cid("marker-connector"), erased.id)

    dump = backend.dump()
    assert "ZEBRAXQ" not in dump
    assert "OKAPIWV" in dump
    if backend.name == "sqlite":
        raw = backend.raw_files()
        assert b"ZEBRAXQ" not in raw
        assert b"OKAPIWV" in raw
    with pytest.raises(SchemaErasedError):
        registry.app.delete_schema(AS_ADMIN, cid("marker-connector"), erased.id)
    assert registry.queries.get("acme", kept.id) is not None
    live = read_models(registry)
    registry.rebuild()
    assert read_models(registry) == live
    assert "ZEBRAXQ" not in backend.dump()


@pytest.mark.parametrize("round_", range(3))
def test_an_erase_racing_updates_wins_and_updates_never_see_a_missing_schema(
    registry: Registry, round_: int
) -> None:
    """Seven update loops against one erase: the erase is not starved by concurrent-write
    conflicts, and an update torn by the erase answers erased (410), never not-found (404)."""
    key = f"race-{round_}"
    state = registry.app.create_schema(AS_ADMIN, placed(seed_create()) | {"key": key})
    erased = threading.Event()
    seen: list[str] = []
    start = threading.Barrier(8)

    def update_until_erased(index: int) -> None:
        start.wait()
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline:  # ends at the first update that finds it erased
            count += 1
            body = placed(seed_create()) | {"key": key, "name": f"n{index}-{count}"}
            try:
                registry.app.update_schema(AS_ADMIN, state.id, body, None)
                seen.append("updated")
            except ConcurrentWriteError:
                seen.append("conflict")
            except SchemaErasedError:
                seen.append("erased")
                return
            except SchemaNotFoundError:
                seen.append("not-found")
                return

    threads = [threading.Thread(target=update_until_erased, args=(i,)) for i in range(7)]
    for thread in threads:
        thread.start()
    start.wait()
    try:
        registry.app.erase_schema(AS_ADMIN, cid(), state.id)
    finally:
        erased.set()
        for thread in threads:
            thread.join()
    assert "not-found" not in seen
    assert seen.count("erased") == 7
    assert registry.queries.head("acme", state.id).status == "erased"  # type: ignore[union-attr]
