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
)
from domain.connectors.ids import encode_connector_id
from domain.errors import StaleVersionError
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


def test_delete_refuses_while_schemas_are_live_and_cascade_deletes_them(
    registry: Registry
) -> None:
    state = registry.app.create_connector(OWNER, s3())
    schemas = [registry.app.create_schema(OWNER.actor, seed_create() | {
        "connectorId": state.connector_id, "key": f"k{i}"}) for i in range(2)]
    connector = registry.app.connector(OWNER, state.id)
    for schema in schemas:
        connector.attach_schema(OWNER.actor, schema.id)
    registry.app._save(connector)
    with pytest.raises(ConnectorHasSchemasError) as live:
        registry.app.delete_connector(OWNER, state.id, cascade=False)
    assert sorted(live.value.schema_ids) == sorted(s.schema_id for s in schemas)
    registry.app.delete_connector(OWNER, state.id, cascade=True)
    for schema in schemas:
        head = registry.queries.head("acme", schema.id)
        assert head is not None and head.status == "deleted"
    with pytest.raises(ConnectorDeletedError):
        registry.app.update_connector(OWNER, state.id, {"name": "x"}, None, patch=True)
    restored = registry.app.restore_connector(OWNER, state.id)
    assert not restored.deleted


def test_erase_takes_its_schemas_its_secrets_and_its_name(
    registry: Registry, backend: Backend
) -> None:
    state = registry.app.create_connector(OWNER, s3())
    kept = registry.app.create_connector(OWNER, s3(name="Kept", config={
        "bucket": "kept-bucket", "region": "eu-west-1"}))
    schema = registry.app.create_schema(OWNER.actor, seed_create() | {
        "connectorId": state.connector_id, "name": "Erased accounts"})
    connector = registry.app.connector(OWNER, state.id)
    connector.attach_schema(OWNER.actor, schema.id)
    registry.app._save(connector)

    registry.app.erase_connector(OWNER, state.id)

    with pytest.raises(ConnectorErasedError):
        registry.app.erase_connector(OWNER, state.id)
    head = registry.queries.head("acme", schema.id)
    assert head is not None and head.status == "erased"
    dump = backend.dump()
    for gone in (SECRET, "my-documents", "Erased accounts", "/documents/"):
        assert gone not in dump
    assert "kept-bucket" in dump  # another connector's config stays (in its read model)
    listed = registry.connectors.page("acme", type=None, provider=None, enabled=None, tag=None,
                                      scope=None, include_deleted=True, after=None, limit=10)
    assert {c.id for c in listed} == {kept.id}
    again = registry.app.create_connector(OWNER, s3())  # the name was released
    assert again.connector_id != encode_connector_id(state.id)
