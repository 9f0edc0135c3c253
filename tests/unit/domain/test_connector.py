"""The Connector aggregate: events and texts of each command, secrets, erase, delete rules."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from domain.common import Actor
from domain.connectors import events as ev
from domain.connectors.connector import Connector, ConnectorRedacted
from domain.connectors.errors import (
    ConnectorDeletedError,
    ConnectorErasedError,
    ConnectorHasSchemasError,
    ConnectorNotDeletedError,
    ConnectorNotLiveError,
    ConnectorValidationError,
)
from domain.connectors.events import change_texts
from domain.ids import encode_schema_id

ALICE = Actor("alice-sub", "acme", "alice@example.com", app_id="app-1")
BOB = Actor("bob-sub", "acme")
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ROTATED = "rotated-secret-value-0123456789"


def seed_s3() -> dict[str, Any]:
    return {
        "name": "Document Storage", "type": "s3", "collection": "col_abc123",
        "config": {"bucket": "my-documents", "region": "us-east-1", "prefix": "/documents/"},
        "credentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": SECRET},
    }


def created() -> Connector:
    connector = Connector.create(ALICE, uuid.uuid4(), seed_s3())
    connector.collect_events()
    return connector


def texts(connector: Connector) -> list[str]:
    return change_texts(connector.collect_events())


def test_create_records_one_created_event_with_actor_tenant_and_defaults() -> None:
    connector_id = uuid.uuid4()
    connector = Connector.create(ALICE, connector_id, seed_s3())
    (event,) = connector.collect_events()
    assert isinstance(event, ev.Created)
    assert event.originator_id == connector_id
    assert (event.revision, event.tenant, event.actor_subject, event.app_id) == (
        1, "acme", "alice-sub", "app-1")
    assert event.text() == "Initial creation"
    state = connector.state
    assert (state.name, state.type, state.collection, state.owner_id) == (
        "Document Storage", "s3", "col_abc123", "alice-sub")
    assert (state.source, state.source_type, state.scope, state.enabled) == (
        "edm", "api", "user", True)
    assert (state.protocol, state.status, state.auth_type, state.version) == (
        "s3", "active", "accessKey", 1)
    assert state.credential_fields == ("accessKeyId", "secretAccessKey")
    assert state.credentials_set and state.credential_last_rotated_at == event.timestamp


def test_an_invalid_document_is_refused_with_pointers() -> None:
    document = seed_s3()
    document["config"]["bucket"] = 5
    with pytest.raises(ConnectorValidationError) as raised:
        Connector.create(ALICE, uuid.uuid4(), document)
    assert [v.pointer for v in raised.value.violations] == ["/config/bucket"]


def test_patching_the_prefix_gives_exactly_one_text() -> None:
    connector = created()
    assert connector.patch(BOB, {"config": {"prefix": "/new-prefix/"}}) is True
    assert texts(connector) == ["Changed config prefix: /documents/ -> /new-prefix/"]
    assert connector.state.config["prefix"] == "/new-prefix/"
    assert connector.state.revision == 2 and connector.state.updated_by == "bob-sub"


def test_a_patch_changing_nothing_records_nothing() -> None:
    connector = created()
    assert connector.patch(BOB, {"config": {"prefix": "/documents/"}, "id": "ignored"}) is False
    assert connector.collect_events() == []


def test_one_patch_is_one_revision_with_one_timestamp_and_ordered_texts() -> None:
    connector = created()
    connector.patch(BOB, {
        "name": "Docs", "scope": "org", "ownerId": "carol", "enabled": False,
        "config": {"prefix": None, "endpoint": "https://s3.example.com"},
        "sharedUsers": ["dave"], "tags": {"env": "prod"}, "rotationDays": 90,
    })
    events = connector.collect_events()
    assert {e.revision for e in events} == {2}  # type: ignore[attr-defined]
    assert len({e.timestamp for e in events}) == 1
    assert change_texts(events) == [
        "Renamed connector: Document Storage -> Docs", "Changed scope: user -> org",
        "Changed owner: alice-sub -> carol", "Removed config prefix", "Added config endpoint",
        "Disabled", "Shared with user: dave", "Added tag: env", "Changed rotationDays: null -> 90",
    ]
    state = connector.state
    assert (state.status, state.owner_id, state.tags, state.shared_users) == (
        "disabled", "carol", {"env": "prod"}, ("dave",))
    assert state.next_rotation_due is not None


def test_tags_sharing_and_enable() -> None:
    connector = created()
    connector.patch(BOB, {"tags": {"env": "prod", "team": "a"}, "sharedUsers": ["x", "y"]})
    connector.collect_events()
    connector.patch(BOB, {"tags": {"env": "test", "team": None}, "sharedUsers": ["y"],
                          "enabled": False})
    assert texts(connector) == ["Disabled", "Unshared with user: x", "Removed tag: env",
                                "Removed tag: team", "Added tag: env"]
    connector.patch(BOB, {"enabled": True})
    assert texts(connector) == ["Enabled"]


def test_put_unsets_missing_fields_but_keeps_owner_and_credentials() -> None:
    connector = created()
    document = seed_s3()
    del document["collection"], document["credentials"]
    document["config"] = {"bucket": "my-documents", "region": "eu-west-1"}
    assert connector.replace(BOB, document) is True
    assert texts(connector) == ["Removed config prefix",
                                "Changed config region: us-east-1 -> eu-west-1",
                                "Changed collection: col_abc123 -> null"]
    assert connector.state.owner_id == "alice-sub" and connector.state.credentials_set


def test_the_type_cannot_change() -> None:
    connector = created()
    with pytest.raises(ConnectorValidationError) as raised:
        connector.replace(BOB, {"name": "x", "type": "google_drive"})
    assert [v.pointer for v in raised.value.violations] == ["/type"]


def test_credentials_are_replaced_whole_and_never_kept_in_state() -> None:
    connector = created()
    connector.replace_credentials(BOB, {"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                                        "secretAccessKey": ROTATED, "sessionToken": "tok"})
    assert texts(connector) == ["Changed credentials"]
    assert connector.state.credential_fields == (
        "accessKeyId", "secretAccessKey", "sessionToken")
    connector.patch(BOB, {"credentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                                          "secretAccessKey": ROTATED}})
    assert texts(connector) == ["Changed credentials"]
    assert connector.state.revision == 3
    assert connector.state.credential_fields == ("accessKeyId", "secretAccessKey")
    with pytest.raises(ConnectorValidationError):
        connector.replace_credentials(BOB, {"accessKeyId": "AKIAIOSFODNN7EXAMPLE"})
    with pytest.raises(ConnectorValidationError):
        connector.patch(BOB, {"credentials": None})


def test_no_connector_event_holds_a_credential_value() -> None:
    connector = Connector.create(ALICE, uuid.uuid4(), seed_s3())
    connector.replace_credentials(BOB, {"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                                        "secretAccessKey": ROTATED})
    connector.patch(BOB, {"name": "Other", "config": {"prefix": "/p/"},
                          "credentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                                          "secretAccessKey": SECRET}})
    events = connector.collect_events()
    for event in events:
        everything = json.dumps(vars(event), default=str)
        assert SECRET not in everything and ROTATED not in everything
        assert SECRET not in event.text() and ROTATED not in event.text()  # type: ignore[attr-defined]
    recorded = [(type(e).__name__, vars(e)["credential_fields"]) for e in events
                if "credential_fields" in vars(e)]
    assert recorded == [("Created", ["accessKeyId", "secretAccessKey"]),
                        ("CredentialsReplaced", ["accessKeyId", "secretAccessKey"]),
                        ("CredentialsReplaced", ["accessKeyId", "secretAccessKey"])]
    assert connector.state.credential_id is not None
    assert SECRET not in repr(connector.state) and ROTATED not in repr(connector.state)


def test_a_version_1_event_with_values_is_read_back_without_them() -> None:
    state = {"credentials": {"authType": "accessKey", "accessKeyId": "AKIA", "secretAccessKey":
                             SECRET}}
    ev.Created.upcast_v1_v2(state)
    assert state == {"credential_fields": ["accessKeyId", "secretAccessKey"]}
    replaced = {"credentials": {"token": SECRET}}
    ev.CredentialsReplaced.upcast_v1_v2(replaced)
    assert replaced == {"credential_fields": ["token"]}


def test_schemas_attach_detach_and_delete_needs_cascade() -> None:
    connector = created()
    first, second = uuid.uuid4(), uuid.uuid4()
    connector.attach_schema(BOB, first)
    connector.attach_schema(BOB, second)
    with pytest.raises(ConnectorValidationError):
        connector.attach_schema(BOB, first)
    assert texts(connector) == [f"Attached schema: {encode_schema_id(first)}",
                                f"Attached schema: {encode_schema_id(second)}"]
    assert connector.state.live_schemas == (first, second)
    with pytest.raises(ConnectorHasSchemasError) as raised:
        connector.delete(BOB)
    assert raised.value.schema_ids == [encode_schema_id(first), encode_schema_id(second)]
    assert connector.collect_events() == []
    assert connector.delete(BOB, cascade=True) == (first, second)
    assert texts(connector) == ["Deleted"]
    assert connector.state.deleted and connector.state.status == "deleted"
    assert connector.state.live_schemas == () and connector.state.schemas == (first, second)


def test_schema_delete_restore_and_erase_are_recorded_and_only_live_ones_block() -> None:
    connector = created()
    kept, gone = uuid.uuid4(), uuid.uuid4()
    connector.attach_schema(BOB, kept)
    connector.attach_schema(BOB, gone)
    connector.delete_schema(BOB, gone)
    connector.delete_schema(BOB, gone)  # already deleted: nothing more to record
    assert connector.state.live_schemas == (kept,)
    connector.restore_schema(BOB, gone)
    assert [e.text() for e in connector.collect_events()[2:]] == [
        f"Deleted schema: {encode_schema_id(gone)}", f"Restored schema: {encode_schema_id(gone)}"]
    connector.delete_schema(BOB, gone)
    connector.delete_schema(BOB, kept)
    assert connector.state.live_schemas == ()
    connector.detach_schema(BOB, gone)
    connector.detach_schema(BOB, gone)
    assert connector.state.schemas == (kept,)
    assert texts(connector) == [
        f"Deleted schema: {encode_schema_id(gone)}", f"Deleted schema: {encode_schema_id(kept)}",
        f"Erased schema: {encode_schema_id(gone)}"]
    assert connector.delete(BOB) == ()
    with pytest.raises(ConnectorNotLiveError):
        connector.restore_schema(BOB, kept)
    connector.detach_schema(BOB, kept)  # an erase works under a deleted connector
    assert connector.state.schemas == ()


def test_delete_restore_and_their_guards() -> None:
    connector = created()
    with pytest.raises(ConnectorNotDeletedError):
        connector.restore(BOB)
    connector.delete(BOB)
    for command in (lambda: connector.patch(BOB, {"name": "x"}), lambda: connector.delete(BOB),
                    lambda: connector.attach_schema(BOB, uuid.uuid4())):
        with pytest.raises(ConnectorDeletedError):
            command()
    connector.restore(BOB)
    assert texts(connector) == ["Deleted", "Restored"]
    assert connector.state.revision == 3 and not connector.state.deleted


def test_erase_leaves_no_content_and_returns_the_schemas_to_erase() -> None:
    connector = created()
    schema = uuid.uuid4()
    connector.attach_schema(BOB, schema)
    connector.delete(BOB, cascade=True)
    assert connector.erase(BOB) == (schema,)
    erased = connector.collect_events()[-1]
    assert isinstance(erased, ev.Erased) and erased.text() == "Erased"
    assert erased.erased_versions == 3
    assert ev.Erased.shredded is False and ev.Created.shredded is True
    assert ev.CredentialsReplaced.shredded is True
    assert set(vars(erased)) <= {"originator_id", "originator_version", "timestamp", "revision",
                                 "tenant", "actor_subject", "actor_email", "app_id",
                                 "erased_versions"}
    state = connector.state
    assert state.erased and not state.exists and state.status == "erased"
    assert (state.name, state.type, state.config, state.credential_fields, state.schemas,
            state.owner_id, state.created_by) == (None, None, {}, (), (), None, None)
    for command in (lambda: connector.erase(BOB), lambda: connector.restore(BOB),
                    lambda: connector.patch(BOB, {})):
        with pytest.raises(ConnectorErasedError):
            command()


def test_redacted_events_rebuild_an_erased_connector() -> None:
    connector = created()
    connector.patch(BOB, {"name": "Renamed"})
    connector.erase(BOB)
    erase_event = connector.collect_events()[-1]
    shell = None
    for version in (1, 2):
        redacted = ConnectorRedacted(originator_id=connector.id, originator_version=version,
                                     timestamp=erase_event.timestamp)
        shell = redacted.mutate(shell)
    rebuilt = erase_event.mutate(shell)
    assert rebuilt.state == connector.state
    assert rebuilt.version == connector.version
    assert ConnectorRedacted.shredded is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(("ok", "status", "text"), [
    (True, 200, "Tested connection: ok"), (False, 403, "Tested connection: refused (403)"),
    (False, 408, "Tested connection: timed out (408)"),
    (False, 502, "Tested connection: failed (502)"),
    (False, 400, "Tested connection: not allowed (400)"),
])
def test_a_connection_test_is_one_revision_with_its_outcome(ok: bool, status: int,
                                                            text: str) -> None:
    connector = created()
    before = connector.state.revision
    connector.record_test(ALICE, ok, status, None if ok else "what it said", 42)
    (event,) = [e for e in connector.collect_events() if isinstance(e, ev.ConnectionTested)]
    state = connector.state
    assert state.revision == before + 1 and state.last_tested_at == event.timestamp
    assert (state.last_test_ok, state.last_test_status, state.last_test_latency_ms) == (
        ok, status, 42)
    assert state.last_test_message == (None if ok else "what it said")
    assert change_texts([event]) == [text]


def test_the_compatibility_mode_defaults_to_backward_and_changes_are_recorded() -> None:
    connector = created()
    assert connector.state.compatibility == "BACKWARD"
    assert connector.state.editable()["compatibility"] == "BACKWARD"
    assert connector.patch(BOB, {"compatibility": "FULL"}) is True
    assert texts(connector) == ["Changed compatibility: BACKWARD -> FULL"]
    assert connector.state.compatibility == "FULL"
    assert connector.patch(BOB, {"compatibility": "FULL"}) is False
    strict = Connector.create(ALICE, uuid.uuid4(), seed_s3() | {"compatibility": "NONE"})
    assert strict.state.compatibility == "NONE"


def test_a_version_3_creation_has_the_default_mode() -> None:
    state: dict[str, Any] = {"fields": {"name": "Old"}}
    ev.Created.upcast_v3_v4(state)
    assert state == {"fields": {"name": "Old", "compatibility": "BACKWARD"}}
