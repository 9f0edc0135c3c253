"""Feeding connector events to the projection gives the expected rows, and never a secret."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.sqlite import SQLiteDatastore

from domain.common import Actor
from domain.connectors.connector import Connector, ConnectorRedacted
from domain.connectors.state import ConnectorState
from projections.connectors import (
    TABLES,
    ConnectorProjection,
    ConnectorQueries,
    dump_state,
    load_state,
)
from projections.db import Database
from projections.runner import Projector
from registry.service import Registry

ALICE = Actor("alice-sub", "acme", "alice@example.com")
BOB = Actor("bob-sub", "acme")
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ROTATED = "rotated-secret-value-0123456789"


def seed_s3(**changes: Any) -> dict[str, Any]:
    """The S3 connector of seed 004."""
    return {
        "name": "Document Storage", "type": "s3", "collection": "col_abc123",
        "config": {"bucket": "my-documents", "region": "us-east-1", "prefix": "/documents/"},
        "credentials": {"accessKeyId": KEY_ID, "secretAccessKey": SECRET},
    } | changes


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    datastore = SQLiteDatastore(str(tmp_path / "read.db"))
    database = Database(datastore, "sqlite")
    with database.transaction(write=True) as cur:
        ConnectorProjection().create_tables(cur)
    yield database
    database.close()
    datastore.close()


def project(db: Database, *connectors: Connector) -> None:
    with db.transaction(write=True) as cur:
        for connector in connectors:
            for event in connector.collect_events():
                ConnectorProjection().apply(cur, event)


def rows(db: Database, table: str) -> list[dict[str, Any]]:
    with db.transaction(write=False) as cur:
        return cur.all(f"SELECT * FROM {table} ORDER BY 1, 2")


def every_row(db: Database) -> str:
    """Every row of both tables as one text, to search for what must not be there."""
    return json.dumps({table: rows(db, table) for table in TABLES})


def created(db: Database, **changes: Any) -> Connector:
    connector = Connector.create(ALICE, uuid.uuid4(), seed_s3(**changes))
    project(db, connector)
    return connector


def test_created_and_patched_connector_rows(db: Database) -> None:
    connector = created(db)
    original = connector.state
    connector.patch(BOB, {"config": {"prefix": "/new-prefix/"}})
    project(db, connector)

    (current,) = rows(db, "registry_connectors")
    assert (current["connector_id"], current["type"], current["name"], current["status"]) == (
        original.connector_id, "s3", "Document Storage", "active")
    assert (current["version"], current["tenant"], current["owner_id"]) == (2, "acme", "alice-sub")
    queries = ConnectorQueries(db)
    assert queries.get("acme", connector.id) == connector.state
    history = queries.history("acme", connector.id)
    assert [(r.version, r.changes, r.changed_by) for r in history] == [
        (2, ["Changed config prefix: /documents/ -> /new-prefix/"], "bob-sub"),
        (1, ["Initial creation"], "alice@example.com"),
    ]
    assert queries.version("acme", connector.id, 1) == original
    assert queries.version("acme", connector.id, 3) is None
    head = queries.head("acme", connector.id)
    assert head is not None and (head.version, head.status, head.erased_through) == (2, "active", 0)


def test_other_tenants_see_nothing(db: Database) -> None:
    connector = created(db)
    queries = ConnectorQueries(db)
    assert queries.tenant_of(connector.id) == "acme"
    assert queries.tenant_of(uuid.uuid4()) is None
    assert queries.get("other", connector.id) is None
    assert queries.head("other", connector.id) is None
    assert queries.history("other", connector.id) == []
    assert queries.version("other", connector.id, 1) is None
    assert queries.page("other", limit=10) == []


def test_the_events_of_one_revision_make_one_row(db: Database) -> None:
    connector = created(db)
    connector.patch(ALICE, {"name": "Docs", "scope": "org", "tags": {"team": "data"}})
    project(db, connector)
    (latest, _) = ConnectorQueries(db).history("acme", connector.id)
    assert latest.changes == ["Renamed connector: Document Storage -> Docs",
                              "Changed scope: user -> org", "Added tag: team"]
    assert ConnectorQueries(db).version("acme", connector.id, 2) == connector.state


def test_delete_and_restore(db: Database) -> None:
    connector = created(db)
    connector.delete(ALICE)
    project(db, connector)
    queries = ConnectorQueries(db)
    state = queries.get("acme", connector.id)
    assert state is not None and state.deleted and state.deleted_by == "alice@example.com"
    assert rows(db, "registry_connectors")[0]["status"] == "deleted"
    assert queries.page("acme", limit=10) == []
    assert queries.page("acme", include_deleted=True, limit=10) == [state]
    connector.restore(BOB)
    project(db, connector)
    assert queries.get("acme", connector.id) == connector.state
    assert [r.changes for r in queries.history("acme", connector.id)][:2] == [
        ["Restored"], ["Deleted"]]


def test_erase_leaves_only_the_erase_record(db: Database) -> None:
    connector = created(db)
    connector.patch(ALICE, {"config": {"prefix": "/new-prefix/"}, "tags": {"team": "data"}})
    connector.delete(ALICE)
    connector.erase(ALICE)
    project(db, connector)

    (current,) = rows(db, "registry_connectors")
    assert (current["status"], current["version"], current["erased_through"]) == ("erased", 4, 4)
    assert all(current[c] is None for c in ("type", "name", "owner_id", "tags", "state"))
    (record,) = rows(db, "registry_connector_versions")
    assert (record["version"], record["erased_versions"], record["state"]) == (4, 3, None)
    assert json.loads(record["changes"]) == ["Erased"]
    text = every_row(db)
    for content in ("Document Storage", "my-documents", "us-east-1", "documents", "col_abc123",
                    "accessKeyId", "secretAccessKey", KEY_ID, SECRET, "team", "alice-sub"):
        assert content not in text
    queries = ConnectorQueries(db)
    erased = queries.get("acme", connector.id)
    assert erased is not None and erased.erased and not erased.exists
    assert queries.page("acme", include_deleted=True, limit=10) == []
    assert queries.version("acme", connector.id, 1) is None


def test_redacted_events_change_nothing(db: Database) -> None:
    connector = Connector.create(ALICE, uuid.uuid4(), seed_s3())
    redacted = ConnectorRedacted(originator_id=connector.id, originator_version=1,
                                 timestamp=datetime.now(UTC))
    with db.transaction(write=True) as cur:
        ConnectorProjection().apply(cur, redacted)
    assert rows(db, "registry_connectors") == []
    assert rows(db, "registry_connector_versions") == []


def test_no_credential_value_ever_reaches_a_row(db: Database) -> None:
    connector = created(db)
    connector.replace_credentials(ALICE, {"accessKeyId": "AKIAROTATEDEXAMPLE1",
                                          "secretAccessKey": ROTATED})
    connector.patch(ALICE, {"credentials": {"accessKeyId": "AKIAPATCHEDEXAMPLE1",
                                            "secretAccessKey": ROTATED + "-patched"}})
    project(db, connector)
    text = every_row(db)
    for secret in (KEY_ID, SECRET, "AKIAROTATEDEXAMPLE1", ROTATED, "AKIAPATCHEDEXAMPLE1"):
        assert secret not in text
    state = ConnectorQueries(db).get("acme", connector.id)
    assert state is not None and state.credential_fields == ("accessKeyId", "secretAccessKey")
    assert state.credentials_set


def test_schema_count_follows_attach_and_detach(db: Database) -> None:
    connector = created(db)
    first, second = uuid.uuid4(), uuid.uuid4()
    connector.attach_schema(ALICE, first)
    connector.attach_schema(ALICE, second)
    connector.detach_schema(ALICE, first)
    project(db, connector)
    queries = ConnectorQueries(db)
    assert queries.schema_count("acme", connector.id) == 1
    connector.delete_schema(ALICE, second)
    project(db, connector)
    assert queries.schema_count("acme", connector.id) == 0
    assert queries.get("acme", connector.id) == connector.state
    assert queries.schema_count("acme", uuid.uuid4()) == 0


def test_every_state_attribute_survives_a_row() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    state = ConnectorState(
        id=uuid.uuid4(), tenant="acme", app_id="app-1", revision=7, created_at=moment,
        created_by="a", updated_at=moment, updated_by="b", deleted=True, deleted_at=moment,
        deleted_by="c", type="s3", provider="aws", name="N", collection="col",
        scope="group", owner_id="o", group_id="g", user_id="u", shared_users=("x", "y"),
        shared_to_org=True, config={"bucket": "b", "nested": {"list": [1, 2]}},
        vault_path="/v", auth_type="accessKey", credential_fields=("k",), credentials_set=True,
        credential_last_rotated_at=moment, rotation_days=30, oauth_refresh_needed=True,
        oauth_token_expires_at=moment, oauth_refresh_until=moment, enabled=False,
        sync_status="error", last_sync_at=moment,
        consecutive_errors=3, last_error="boom", metrics={"rows": 5}, event_types=("e",),
        webhook_endpoint_id="w", tags={"t": "v"}, public=True, documentation_url="https://d",
        image_url="https://i", application_id="app", last_tested_at=moment,
        last_test_ok=False, last_test_status=403, last_test_message="refused",
        last_test_latency_ms=12, schemas=(held := uuid.uuid4(),),
        deleted_schemas=(held,),
        connection_variables=({"name": "v", "value": "1"},),
        auth_scheme_configs=({"id": "k", "schemeType": "api-key", "name": "X-Key"},),
        connections=({"id": "con_1", "name": "prod", "credentials": {
            "action": [{"id": "action-0", "authSchemeConfig": "k", "credential": "crd_x"}],
            "trigger": []}, "variables": [], "createdAt": "t", "updatedAt": "t"},),
        source="s", source_type="system", compatibility="FULL",
        schema_version=2,
    )
    defaults = ConnectorState(id=state.id)
    assert all(getattr(state, f.name) != getattr(defaults, f.name)
               for f in dataclasses.fields(ConnectorState) if f.name not in
               ("id", "erased", "erased_through"))
    assert load_state(state.id, "acme", 0, dump_state(state)) == state


def test_page_filters(db: Database) -> None:
    s3 = created(db, provider="aws", tags={"team": "data", "env": "prod"})
    other = created(db, name="Archive", tags={"team": "ops"}, scope="org", enabled=False)
    wiki = Connector.create(ALICE, uuid.uuid4(), {
        "name": "Wiki", "type": "confluence", "provider": "atlassian", "scope": "org",
        "config": {"instanceUrl": "https://wiki.example.com", "spaceKeys": ["ENG"]},
    })
    project(db, wiki)
    queries = ConnectorQueries(db)

    def ids(**filters: Any) -> set[uuid.UUID]:
        return {state.id for state in queries.page("acme", limit=10, **filters)}

    assert ids() == {s3.id, other.id, wiki.id}
    assert ids(type="s3") == {s3.id, other.id}
    assert ids(provider="atlassian") == {wiki.id}
    assert ids(enabled=False) == {other.id}
    assert ids(enabled=True) == {s3.id, wiki.id}
    assert ids(scope="org") == {other.id, wiki.id}
    assert ids(tag="team") == {s3.id, other.id}
    assert ids(tag="team=ops") == {other.id}
    assert ids(tag="env=dev") == set()
    assert ids(type="s3", tag="team=data") == {s3.id}


def test_pages_follow_the_public_id_order(db: Database) -> None:
    connectors = [created(db, name=f"Store {n}") for n in range(5)]
    in_order = sorted(c.state.connector_id for c in connectors)
    queries = ConnectorQueries(db)
    first = queries.page("acme", limit=2)
    assert [s.connector_id for s in first] == in_order[:2]
    rest = queries.page("acme", after=first[-1].connector_id, limit=10)
    assert [s.connector_id for s in rest] == in_order[2:]
    connectors[0].delete(ALICE)
    project(db, connectors[0])
    assert len(queries.page("acme", limit=10)) == 4
    assert len(queries.page("acme", include_deleted=True, limit=10)) == 5


class Shredding:
    """Reads events back as the registry does once keys are destroyed: redacted."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        self.destroyed: set[uuid.UUID] = set()

    def to_domain_event(self, stored: Any) -> Any:
        event = self.mapper.to_domain_event(stored)
        if event.originator_id in self.destroyed and getattr(event, "shredded", False):
            return ConnectorRedacted(originator_id=event.originator_id,
                                     originator_version=event.originator_version,
                                     timestamp=event.timestamp)
        return event


def test_a_rebuild_gives_the_live_tables(tmp_path: Path) -> None:
    app = Application[uuid.UUID](env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                      "SQLITE_DBNAME": str(tmp_path / "events.db")})
    db = Database(app.factory.datastore, "sqlite")  # type: ignore[attr-defined]
    mapper = Shredding(app.mapper)
    projector = Projector(db, app.recorder, mapper, [ConnectorProjection()], name="connectors")
    projector.create_tables()
    kept, erased = Connector.create(ALICE, uuid.uuid4(), seed_s3()), Connector.create(
        ALICE, uuid.uuid4(), seed_s3(name="Gone"))
    kept.patch(BOB, {"config": {"prefix": "/new-prefix/"}, "tags": {"team": "data"}})
    kept.delete(ALICE)
    kept.restore(ALICE)
    erased.erase(ALICE)
    app.save(kept, erased)
    projector.catch_up()
    mapper.destroyed.add(erased.id)
    live = {table: rows(db, table) for table in TABLES}
    assert len(live["registry_connector_versions"]) == 5

    projector.rebuild()
    assert {table: rows(db, table) for table in TABLES} == live
    db.close()
    app.close()


def test_the_registry_builds_the_tables_and_filters_tags_on_each_backend(
    registry: Registry,
) -> None:
    assert "connectors:4" in registry.projector.layout
    tagged = Connector.create(ALICE, uuid.uuid4(), seed_s3(tags={"team": "data", "area:eu": "x"}))
    plain = Connector.create(ALICE, uuid.uuid4(), seed_s3(name="Plain", enabled=False))
    project(registry.db, tagged, plain)
    queries = ConnectorQueries(registry.db)

    def ids(**filters: Any) -> set[uuid.UUID]:
        return {state.id for state in queries.page("acme", limit=10, **filters)}

    assert ids(tag="team") == ids(tag="team=data") == ids(tag="area:eu=x") == {tagged.id}
    assert ids(tag="team=ops") == set()
    assert ids(enabled=False) == {plain.id}
    assert queries.get("acme", tagged.id) == tagged.state
