"""Connector commands on real SQLite and real PostgreSQL: names, cascades, erase, secrets."""

from __future__ import annotations

import copy
import threading
import uuid
from typing import Any

import pytest

from domain.common import Actor
from domain.connectors.errors import (
    ConnectorDeletedError,
    ConnectorErasedError,
    ConnectorForbiddenError,
    ConnectorHasSchemasError,
    ConnectorNameTakenError,
    ConnectorNotFoundError,
    ConnectorNotLiveError,
)
from domain.connectors.ids import encode_connector_id
from domain.connectors.state import ConnectorState
from domain.errors import SchemaForbiddenError, SchemaValidationError, StaleVersionError
from registry.application import SNAPSHOT_INTERVAL
from registry.connectors import Access
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import seed_create

OWNER = Access(Actor("owner-1", "acme", "owner@example.com"), roles=("editor",))
ADMIN = Access(Actor("admin-1", "acme", "admin@example.com"), roles=("admin",))
STRANGER = Access(Actor("someone", "acme"), roles=("editor",))
OTHER_TENANT = Access(Actor("admin-2", "globex"), roles=("admin",))
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"

S3: dict[str, Any] = {
    "name": "Document Storage",
    "type": "s3",
    "collection": "col_abc123",
    "config": {"bucket": "my-documents", "region": "us-east-1", "prefix": "/documents/"},
    "credentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": SECRET},
}


def s3(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(S3) | changes


def test_the_seed_s3_body_creates_a_connector_and_no_dump_holds_the_secret(
    registry: Registry, backend: Backend
) -> None:
    state = registry.app.create_connector(OWNER, s3())
    assert state.connector_id.startswith("cnn_") and state.owner_id == "owner-1"
    assert state.credential_fields and SECRET not in repr(state)
    dump = backend.dump()
    assert SECRET not in dump and "AKIAIOSFODNN7EXAMPLE" not in dump


def test_names_are_unique_per_tenant_and_follow_renames(registry: Registry) -> None:
    first = registry.app.create_connector(OWNER, s3())
    with pytest.raises(ConnectorNameTakenError) as taken:
        registry.app.create_connector(ADMIN, s3(name="document   STORAGE"))
    assert taken.value.holder_id == first.connector_id
    registry.app.create_connector(OTHER_TENANT, s3())  # another tenant: its own names
    registry.app.update_connector(OWNER, first.id, {"name": "Archive"}, None, patch=True)
    second = registry.app.create_connector(ADMIN, s3())  # the old name is free again
    assert second.name == "Document Storage"


def test_racing_creates_of_one_name_give_exactly_one_connector(registry: Registry) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        try:
            registry.app.create_connector(OWNER, s3())
            outcomes.append("created")
        except ConnectorNameTakenError:
            outcomes.append("taken")

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "taken", "taken", "taken"]


def test_patch_put_versions_and_if_match(registry: Registry) -> None:
    state = registry.app.create_connector(OWNER, s3())
    patched, changed = registry.app.update_connector(
        OWNER, state.id, {"config": {"prefix": "/new-prefix/"}}, {1}, patch=True)
    assert changed and patched.revision == 2 and patched.config["prefix"] == "/new-prefix/"
    with pytest.raises(StaleVersionError):
        registry.app.update_connector(OWNER, state.id, {"name": "x"}, {1}, patch=True)
    _, unchanged = registry.app.update_connector(
        OWNER, state.id, {"config": {"prefix": "/new-prefix/"}}, None, patch=True)
    assert not unchanged


def test_only_the_owner_or_an_admin_changes_and_other_tenants_see_nothing(
    registry: Registry
) -> None:
    state = registry.app.create_connector(OWNER, s3(scope="org"))
    with pytest.raises(ConnectorForbiddenError):
        registry.app.update_connector(STRANGER, state.id, {"name": "Mine"}, None, patch=True)
    registry.app.update_connector(ADMIN, state.id, {"name": "Admin's"}, None, patch=True)
    with pytest.raises(ConnectorNotFoundError) as other:
        registry.app.delete_connector(OTHER_TENANT, state.id, cascade=False)
    with pytest.raises(ConnectorNotFoundError) as unknown:
        registry.app.delete_connector(OTHER_TENANT, uuid.UUID(int=1), cascade=False)
    assert str(other.value) == str(unknown.value)


def under(state: ConnectorState, **changes: Any) -> dict[str, Any]:
    """The seed's schema document under this connector."""
    return seed_create() | {"connectorId": state.connector_id} | changes


def test_schemas_need_a_live_visible_connector_and_are_recorded_by_it(
    registry: Registry
) -> None:
    private = registry.app.create_connector(OWNER, s3())
    hidden = registry.app.create_schema  # a user-scoped connector is the owner's alone
    with pytest.raises(SchemaValidationError) as invisible:
        hidden(STRANGER, under(private))
    with pytest.raises(SchemaValidationError) as unknown:
        hidden(STRANGER, seed_create() | {"connectorId": encode_connector_id(uuid.uuid4())})
    assert invisible.value.violations == unknown.value.violations
    assert invisible.value.violations[0].pointer == "/connectorId"
    with pytest.raises(SchemaValidationError):
        hidden(OTHER_TENANT, under(private))

    schema = registry.app.create_schema(OWNER, under(private))
    connector = registry.connectors.get("acme", private.id)
    assert connector is not None and connector.live_schemas == (schema.id,)
    with pytest.raises(SchemaForbiddenError):
        registry.app.delete_schema(STRANGER, private.connector_id, schema.id)
    registry.app.delete_schema(OWNER, private.connector_id, schema.id)
    connector = registry.connectors.get("acme", private.id)
    assert connector is not None and connector.live_schemas == ()
    assert connector.schemas == (schema.id,)
    registry.app.delete_connector(OWNER, private.id, cascade=False)  # no live schema: allowed
    with pytest.raises(ConnectorNotLiveError):
        registry.app.restore_schema(OWNER, private.connector_id, schema.id)
    with pytest.raises(SchemaValidationError):
        registry.app.create_schema(OWNER, under(private, key="late"))
    texts = [entry.changes for entry in registry.connectors.history("acme", private.id)]
    assert texts[:2] == [["Deleted"], [f"Deleted schema: {schema.schema_id}"]]


def test_delete_refuses_while_schemas_are_live_and_cascade_deletes_them(
    registry: Registry
) -> None:
    state = registry.app.create_connector(OWNER, s3())
    schemas = [registry.app.create_schema(OWNER, under(state, key=f"k{i}")) for i in range(2)]
    with pytest.raises(ConnectorHasSchemasError) as live:
        registry.app.delete_connector(OWNER, state.id, cascade=False)
    assert sorted(live.value.schema_ids) == sorted(s.schema_id for s in schemas)
    registry.app.delete_connector(OWNER, state.id, cascade=True)
    for schema in schemas:
        head = registry.queries.head("acme", schema.id)
        assert head is not None and head.status == "deleted"
        history = registry.queries.history("acme", schema.id)
        assert history[0].changes == ["Deleted"]
    with pytest.raises(ConnectorDeletedError):
        registry.app.update_connector(OWNER, state.id, {"name": "x"}, None, patch=True)
    restored = registry.app.restore_connector(OWNER, state.id)
    assert not restored.deleted and restored.live_schemas == ()
    registry.app.restore_schema(OWNER, state.connector_id, schemas[0].id)
    current = registry.connectors.get("acme", state.id)
    assert current is not None and current.live_schemas == (schemas[0].id,)


def test_erase_takes_its_schemas_its_secrets_and_its_name(
    registry: Registry, backend: Backend
) -> None:
    state = registry.app.create_connector(OWNER, s3())
    kept = registry.app.create_connector(OWNER, s3(name="Kept", config={
        "bucket": "kept-bucket", "region": "eu-west-1"}))
    schemas = [
        registry.app.create_schema(OWNER, under(state, name="Erased accounts", fields=[
            {"name": "fieldQUAGGA", "type": "string", "primary": True}])),
        registry.app.create_schema(OWNER, under(state, key="groups", name="Erased groups",
                                                entityType="group")),
    ]
    registry.app.delete_schema(OWNER, state.connector_id, schemas[1].id)  # deleted ones go too
    other = registry.app.create_schema(OWNER, under(kept, name="Kept accounts", fields=[
        {"name": "fieldOKAPI", "type": "string", "primary": True}]))

    registry.app.erase_connector(OWNER, state.id)

    with pytest.raises(ConnectorErasedError):
        registry.app.erase_connector(OWNER, state.id)
    for schema in schemas:
        head = registry.queries.head("acme", schema.id)
        assert head is not None and head.status == "erased"
        assert registry.queries.history("acme", schema.id)[0].changes == ["Erased"]
    dump = backend.dump()
    for gone in (SECRET, "my-documents", "Erased accounts", "Erased groups", "fieldQUAGGA",
                 "/documents/"):
        assert gone not in dump
    for there in ("kept-bucket", "Kept accounts", "fieldOKAPI"):
        assert there in dump  # another connector's config and schemas stay
    assert registry.queries.head("acme", other.id).status == "active"  # type: ignore[union-attr]
    listed = registry.connectors.page("acme", type=None, provider=None, enabled=None, tag=None,
                                      scope=None, include_deleted=True, after=None, limit=10)
    assert {c.id for c in listed} == {kept.id}
    again = registry.app.create_connector(OWNER, s3())  # the name was released
    assert again.connector_id != encode_connector_id(state.id)


@pytest.mark.parametrize("round_", range(3))
def test_schema_creates_racing_a_connector_delete_never_leave_a_live_schema(
    registry: Registry, round_: int
) -> None:
    """Six threads create schemas under one connector while another deletes it (no cascade):
    whichever wins, no live schema is left under a deleted connector, and every create
    either landed (and the delete saw it) or was refused."""
    state = registry.app.create_connector(OWNER, s3(name=f"Racing {round_}"))
    start = threading.Barrier(7)
    outcomes: list[str] = []

    def create(index: int) -> None:
        start.wait()
        try:
            registry.app.create_schema(OWNER, under(state, key=f"k{index}"))
            outcomes.append("created")
        except SchemaValidationError:
            outcomes.append("refused")

    def delete() -> None:
        start.wait()
        try:
            registry.app.delete_connector(OWNER, state.id, cascade=False)
            outcomes.append("deleted")
        except ConnectorHasSchemasError:
            outcomes.append("held")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    threads.append(threading.Thread(target=delete))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 7 and set(outcomes) <= {"created", "refused", "deleted", "held"}
    connector = registry.connectors.get("acme", state.id)
    assert connector is not None
    live = [s for s in registry.queries.page("acme", connector_id=state.connector_id,
                                             entity_type=None, include_deleted=False,
                                             after=None, limit=100)]
    assert len(live) == outcomes.count("created") == len(connector.live_schemas)
    if connector.deleted:
        assert live == [] and "deleted" in outcomes
    else:
        assert "held" in outcomes and live
    rebuilt = registry.connectors.get("acme", state.id)
    registry.rebuild()
    assert registry.connectors.get("acme", state.id) == rebuilt


def test_a_connector_is_read_from_its_snapshot_and_an_erase_shreds_it(
    registry: Registry, backend: Backend
) -> None:
    """A connector holding many schemas loads from a snapshot plus the events since; the
    snapshot is encrypted like the events, so the erase leaves nothing of it readable."""
    state = registry.app.create_connector(OWNER, s3(config={
        "bucket": "bucket-snapshotted", "region": "us-east-1"}))
    for index in range(SNAPSHOT_INTERVAL + 3):  # one snapshot, then three more events
        registry.app.create_schema(OWNER, under(state, key=f"k{index}"))
    snapshots = list(registry.app.snapshots.get(state.id))  # type: ignore[union-attr]
    assert [s.originator_version for s in snapshots] == [SNAPSHOT_INTERVAL]
    loaded = registry.app.connector(OWNER, state.id)
    assert loaded.version == SNAPSHOT_INTERVAL + 4
    assert loaded.state == registry.connectors.get("acme", state.id)  # = the replayed read model
    assert len(loaded.state.live_schemas) == SNAPSHOT_INTERVAL + 3
    assert "bucket-snapshotted" in backend.dump()  # in the read model, until the erase

    registry.app.erase_connector(OWNER, state.id)
    assert "bucket-snapshotted" not in backend.dump()  # snapshot and events are ciphertext
    erased = registry.app.repository.get(state.id)
    assert erased.state.erased and erased.state.tenant == "acme"
    with pytest.raises(ConnectorErasedError):
        registry.app.erase_connector(OWNER, state.id)
    heads = [registry.queries.head("acme", schema) for schema in loaded.state.schemas]
    assert {head.status for head in heads if head is not None} == {"erased"}
    assert len(heads) == SNAPSHOT_INTERVAL + 3


def test_connector_credentials_reads_the_current_values_for_the_caller_only(
    registry: Registry,
) -> None:
    state = registry.app.create_connector(OWNER, s3())
    _, values = registry.app.connector_credentials(OWNER, state.id)
    assert values == S3["credentials"]
    rotated = {"accessKeyId": "AKIAROTATED000000000", "secretAccessKey": "rotated-" + SECRET}
    registry.app.rotate_connector_credentials(OWNER, state.id, rotated)
    assert registry.app.connector_credentials(ADMIN, state.id)[1] == rotated
    with pytest.raises(ConnectorNotFoundError):
        registry.app.connector_credentials(OTHER_TENANT, state.id)
    registry.app.delete_connector(OWNER, state.id, cascade=False)
    with pytest.raises(ConnectorDeletedError):
        registry.app.connector_credentials(OWNER, state.id)
