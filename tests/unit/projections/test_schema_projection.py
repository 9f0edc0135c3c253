"""Feeding schema events to the projection gives the expected rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.sqlite import SQLiteDatastore

from domain.common import Actor
from domain.model import parse_content
from domain.schema import Schema, SchemaRedacted
from projections.db import Database
from projections.schemas import SchemaProjection, SchemaQueries
from tests.fixtures import seed_create

ACTOR = Actor("sub-1", "acme", "admin@example.com")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    datastore = SQLiteDatastore(str(tmp_path / "read.db"))
    database = Database(datastore, "sqlite")
    with database.transaction(write=True) as cur:
        SchemaProjection().create_tables(cur)
    yield database
    database.close()
    datastore.close()


def project(db: Database, events: list[Any]) -> None:
    with db.transaction(write=True) as cur:
        for event in events:
            SchemaProjection().apply(cur, event)


def rows(db: Database, table: str) -> list[dict[str, Any]]:
    with db.transaction(write=False) as cur:
        return cur.all(f"SELECT * FROM {table} ORDER BY 1, 2")


def test_created_and_updated_schema_rows(db: Database) -> None:
    schema = Schema.create(ACTOR, "connector-uuid", "account", parse_content(seed_create()))
    document = seed_create()
    document["fields"].append({"name": "department", "type": "string"})
    document["name"] = "Accounts"
    schema.replace(ACTOR, parse_content(document))
    project(db, schema.collect_events())

    (current,) = rows(db, "registry_schemas")
    assert (current["status"], current["version"], current["tenant"]) == ("active", 2, "acme")
    assert json.loads(current["document"])["content"]["name"] == "Accounts"
    history = SchemaQueries(db).history("acme", schema.id)
    assert [e.changes for e in history] == [
        ["Renamed schema: Custom REST API -> Accounts", "Added field: department"],
        ["Initial creation"],
    ]
    assert SchemaQueries(db).history("other-tenant", schema.id) == []
    version_one = SchemaQueries(db).version("acme", schema.id, 1)
    assert version_one is not None and version_one.content is not None
    assert len(version_one.content.fields) == 5


def test_erase_leaves_only_the_erase_record(db: Database) -> None:
    schema = Schema.create(ACTOR, "connector-uuid", "account", parse_content(seed_create()))
    schema.delete(ACTOR)
    schema.erase(ACTOR)
    project(db, schema.collect_events())
    (current,) = rows(db, "registry_schemas")
    assert (current["status"], current["document"], current["connector_id"]) == (
        "erased", None, None)
    (record,) = rows(db, "registry_schema_versions")
    assert (record["version"], record["erased_versions"], record["document"]) == (3, 2, None)
    assert json.loads(record["changes"]) == ["Erased"]


def test_redacted_events_change_nothing(db: Database) -> None:
    schema = Schema.create(ACTOR, "connector-uuid", "account", parse_content(seed_create()))
    redacted = SchemaRedacted(originator_id=schema.id, originator_version=1,
                              timestamp=schema.state.created_at)
    project(db, [redacted])
    assert rows(db, "registry_schemas") == []
    assert rows(db, "registry_schema_versions") == []
