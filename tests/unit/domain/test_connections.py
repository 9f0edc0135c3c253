"""The connector's auth scheme configs and connections: commands → events, pure rules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from domain.common import Actor
from domain.connectors import events as ev
from domain.connectors.auth_schemes import (
    CREDENTIAL_TYPES,
    auth_scheme_config_schema,
    parse_auth_scheme_config,
    validation_messages,
)
from domain.connectors.connection_errors import (
    AuthSchemeConfigExistsError,
    AuthSchemeConfigInUseError,
    ConnectionNameTakenError,
)
from domain.connectors.connections import parse_connection
from domain.connectors.connector import Connector
from domain.connectors.errors import ConnectorValidationError
from domain.credentials.types import TYPE_NAMES

ALICE = Actor("alice", "acme", "alice@example.com")
KEY = "crd_01ARZ3NDEKTSV4RRFFQ69G5FAV"
LOGIN = "crd_01ARZ3NDEKTSV4RRFFQ69G5FAW"
TYPES = {KEY: "string", LOGIN: "basic-auth"}


def universal(**more: Any) -> dict[str, Any]:
    return {"name": "Billing", "type": "universal",
            "config": {"baseUrl": "https://api.example.com", "allowedHosts": ["api.example.com"]},
            **more}


def configured() -> Connector:
    connector = Connector.create(ALICE, uuid.uuid4(), universal())
    connector.add_auth_scheme_config(ALICE, {"id": "key", "schemeType": "api-key",
                                             "name": "X-Key"})
    connector.add_auth_scheme_config(ALICE, {"id": "basic", "schemeType": "basic-auth"})
    return connector


def texts(connector: Connector) -> list[str]:
    return ev.change_texts(connector.collect_events())


def entries(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"authSchemeConfig": c, "credential": k} for c, k in pairs]


def test_every_scheme_is_served_by_known_credential_types() -> None:
    assert set(auth_scheme_config_schema()["properties"]["schemeType"]["enum"]) == set(
        CREDENTIAL_TYPES)
    for served_by in CREDENTIAL_TYPES.values():
        assert set(served_by) <= set(TYPE_NAMES)


@pytest.mark.parametrize(("config", "pointer"), [
    ({"id": "k", "schemeType": "api-key", "in": "body"}, "/in"),
    ({"id": "k", "schemeType": "oauth2", "tokenUrl": "http://plain.example.com"}, "/tokenUrl"),
    ({"id": "k", "schemeType": "basic-auth", "tokenUrl": "https://a.example.com"}, "/tokenUrl"),
    ({"id": "has space", "schemeType": "none"}, "/id"),
    ({"id": "k", "schemeType": "kerberos"}, "/schemeType"),
    ({"schemeType": "none"}, ""),
])
def test_structural_mistakes_point_at_themselves(config: dict[str, Any], pointer: str) -> None:
    _, violations = parse_auth_scheme_config(config)
    assert pointer in [v.pointer for v in violations]


def test_validation_messages_are_computed_from_the_config_alone() -> None:
    def severities(config: dict[str, Any]) -> dict[str, str]:
        return {m["text"]: m["severity"] for m in validation_messages(config)}

    assert severities({"id": "o", "schemeType": "oauth2"})[
        "scheme oauth2 needs a token URL"] == "error"
    code = severities({"id": "o", "schemeType": "oauth2", "grantType": "authorization-code",
                       "tokenUrl": "https://a.example.com/t", "scopes": ["read"]})
    assert code == {"the authorization-code grant needs an authorization URL": "error",
                    "credentials of type oauth2-client, oauth2-code, oauth2-password,"
                    " oauth2-token can serve this scheme": "info"}
    assert "error" not in severities({"id": "k", "schemeType": "api-key", "name": "X"}).values()
    stored, _ = parse_auth_scheme_config({"id": "k", "schemeType": "none",
                                          "validationMessages": [{"text": "sent"}]})
    assert "validationMessages" not in stored


def test_config_commands_record_one_revision_each() -> None:
    connector = configured()
    assert texts(connector) == ["Initial creation", "Added auth scheme config key",
                                "Added auth scheme config basic"]
    with pytest.raises(AuthSchemeConfigExistsError):
        connector.add_auth_scheme_config(ALICE, {"id": "key", "schemeType": "none"})
    assert connector.replace_auth_scheme_config(
        ALICE, "key", {"schemeType": "api-key", "name": "X-Key"}) is False
    assert connector.replace_auth_scheme_config(
        ALICE, "key", {"schemeType": "api-key", "name": "X-Other", "in": "query"})
    with pytest.raises(ConnectorValidationError):
        connector.replace_auth_scheme_config(ALICE, "key", {"id": "renamed",
                                                            "schemeType": "none"})
    assert texts(connector) == ["Changed auth scheme config key"]
    assert connector.state.revision == 4


def test_connections_keep_order_and_guard_their_configs() -> None:
    connector = configured()
    connection = parse_connection({"name": "prod", "credentials": {
        "action": entries(("basic", LOGIN), ("key", KEY)), "trigger": entries(("key", KEY))}})
    added = connector.add_connection(ALICE, "con_1", connection, TYPES)
    assert [(e["id"], e["authSchemeConfig"]) for e in added["credentials"]["action"]] == [
        ("action-0", "basic"), ("action-1", "key")]
    with pytest.raises(ConnectionNameTakenError):
        connector.add_connection(ALICE, "con_2", connection, TYPES)
    with pytest.raises(AuthSchemeConfigInUseError):
        connector.remove_auth_scheme_config(ALICE, "key")
    with pytest.raises(ConnectorValidationError) as changed_scheme:
        connector.replace_auth_scheme_config(ALICE, "key", {"schemeType": "bearer"})
    assert changed_scheme.value.violations[0].pointer == "/schemeType"
    wrong = parse_connection({"name": "x", "credentials": {"action": entries(("key", LOGIN))}})
    with pytest.raises(ConnectorValidationError) as unfit:
        connector.add_connection(ALICE, "con_3", wrong, TYPES)
    assert unfit.value.violations[0].pointer == "/credentials/action/0/credential"
    renamed = parse_connection({"name": "live", "credentials": {"action": []}})
    assert connector.replace_connection(ALICE, "prod", renamed, TYPES)
    connector.remove_connection(ALICE, "live")
    connector.remove_auth_scheme_config(ALICE, "key")
    assert texts(connector)[-3:] == ["Changed connection prod -> live", "Removed connection live",
                                     "Removed auth scheme config key"]


def test_connection_variables_and_reordering_ride_on_a_connector_put() -> None:
    connector = configured()
    connector.add_connection(ALICE, "con_1", parse_connection(
        {"name": "a", "credentials": {}, "variables": [{"name": "own", "value": "1"}]}), TYPES)
    connector.collect_events()
    document = {**connector.state.editable(), "authSchemeConfigIds": ["basic", "key"],
                "connectionVariables": [{"name": "tenant", "value": "acme"}]}
    assert connector.replace(ALICE, document)
    assert texts(connector) == ["Reordered auth scheme configs", "Set connection variables"]
    state = connector.state
    assert [c["id"] for c in state.auth_scheme_configs] == ["basic", "key"]
    assert state.connections[0]["variables"] == [{"name": "tenant", "value": "acme"}]
    assert connector.replace(ALICE, {**state.editable(),
                                     "authSchemeConfigIds": ["basic", "key"]}) is False
    with pytest.raises(ConnectorValidationError):
        connector.replace(ALICE, {**state.editable(), "authSchemeConfigIds": ["key"]})


def test_variables_once_kept_in_the_universal_config_replay_into_the_top_level_field() -> None:
    legacy = universal()
    legacy["config"] = {**legacy["config"],
                        "connectionVariables": [{"name": "v", "value": "1"}]}
    with pytest.raises(ConnectorValidationError):
        Connector.create(ALICE, uuid.uuid4(), legacy)
    fields = {**Connector.create(ALICE, uuid.uuid4(), universal()).state.editable(),
              "config": legacy["config"]}
    event = ev.Created(originator_id=uuid.uuid4(), originator_version=1,
                       timestamp=ev.Created.create_timestamp(), originator_topic="x",
                       revision=1, tenant="acme", actor_subject="alice", actor_email=None,
                       app_id=None, fields=fields, credential_fields=None, auth_type="none",
                       token_expires_at=None)
    from domain.connectors.state import ConnectorState

    state = event.evolve(ConnectorState(id=event.originator_id))
    assert state.connection_variables == ({"name": "v", "value": "1"},)
    assert "connectionVariables" not in state.config
