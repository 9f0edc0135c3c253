"""A connector's auth scheme configs and connections: the documents and the commands.

The commands are a mixin of the Connector aggregate (one revision each, like every connector
command). A connection pairs auth scheme configs of its connector with credentials, in order,
for actions and for triggers (seed 003). Whether a credential id names a live credential of
the tenant is known only to the application, which loads the credentials and passes their
types in (``credential_types``: id -> type, ``None`` for none the caller may use).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from jsonschema.protocols import Validator

from domain.common import Actor, record_revision
from domain.connectors import connection_events as cev
from domain.connectors.auth_schemes import MAX_CONFIGS, fits, parse_auth_scheme_config
from domain.connectors.catalogue import checked_validator, schema_violations
from domain.connectors.connection_errors import (
    AuthSchemeConfigExistsError,
    AuthSchemeConfigInUseError,
    AuthSchemeConfigNotFoundError,
    ConnectionNameTakenError,
    ConnectionNotFoundError,
)
from domain.connectors.definition import strict, text
from domain.connectors.errors import ConnectorValidationError
from domain.connectors.state import ConnectorState
from domain.connectors.variables import connection_variables_schema, duplicate_names
from domain.errors import Violation

if TYPE_CHECKING:
    from domain.connectors.planning import Change

CONNECTION_NAME = "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
"""A connection name: unique within its connector, and part of its route."""
CREDENTIAL_ID = "^crd_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$"
KINDS = ("action", "trigger")
MAX_ENTRIES = 10
MAX_CONNECTIONS = 100
NO_CREDENTIAL = ("no credential with this id in your tenant that a connection may use (a "
                 "connector's own credentials serve that connector alone)")
READ_ONLY = ("id", "createdAt", "updatedAt")
"""Keys of a connection a client may send back from a GET; ignored."""


def _entries() -> dict[str, Any]:
    entry = strict("ConnectionCredential", {
        "authSchemeConfig": text("Id of one of the connector's auth scheme configs",
                                 max_length=64),
        "credential": {"type": "string", "pattern": CREDENTIAL_ID,
                       "description": "Id (crd_) of a credential of the tenant"},
    }, ("authSchemeConfig", "credential"))
    return {"type": "array", "items": entry, "maxItems": MAX_ENTRIES,
            "description": "Applied to a request in this order"}


@cache
def connection_document_schema() -> dict[str, Any]:
    """The JSON Schema 2020-12 document of a connection request body."""
    credentials = strict("ConnectionCredentials",
                         {"action": _entries(), "trigger": _entries()})
    properties = {
        "name": text("Unique within the connector", max_length=100, pattern=CONNECTION_NAME),
        "credentials": credentials,
        "variables": connection_variables_schema(),
        **{key: {"readOnly": True} for key in READ_ONLY},
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:connector-schema-registry:model:Connection",
            **strict("Connection", properties, ("name",))}


@cache
def _validator() -> Validator:
    return checked_validator(connection_document_schema())


def parse_connection(document: Any) -> dict[str, Any]:
    """A connection document's own shape checked: ``{name, credentials, variables?}``, or
    ConnectorValidationError. Credentials and configs are checked by :meth:`add_connection`."""
    if isinstance(document, Mapping):
        document = {k: v for k, v in document.items() if k not in READ_ONLY}
    violations = schema_violations(_validator(), document)
    if not violations:
        variables = document.get("variables") or []
        violations = [Violation(p, m) for p, m in duplicate_names(variables, "/variables")]
    if violations:
        raise ConnectorValidationError(violations)
    credentials = document.get("credentials") or {}
    parsed = {"name": document["name"],
              "credentials": {kind: [dict(e) for e in credentials.get(kind, [])]
                              for kind in KINDS}}
    if "variables" in document:
        parsed["variables"] = [dict(v) for v in document["variables"]]
    return parsed


def credential_ids(connection: Mapping[str, Any] | None) -> set[str]:
    """The ``crd_`` ids a connection uses (each once)."""
    if connection is None:
        return set()
    return {entry["credential"] for kind in KINDS for entry in connection["credentials"][kind]}


def find_connection(state: ConnectorState, name: str) -> Mapping[str, Any]:
    """The connection called ``name``, or ConnectionNotFoundError."""
    for connection in state.connections:
        if connection["name"] == name:
            return connection
    raise ConnectionNotFoundError(f"connector {state.connector_id} has no connection {name}")


def find_config(state: ConnectorState, config_id: str) -> Mapping[str, Any]:
    """The auth scheme config ``config_id``, or AuthSchemeConfigNotFoundError."""
    for config in state.auth_scheme_configs:
        if config["id"] == config_id:
            return config
    raise AuthSchemeConfigNotFoundError(
        f"connector {state.connector_id} has no auth scheme config {config_id}")


def _entry_violations(state: ConnectorState, connection: Mapping[str, Any],
                      credential_types: Mapping[str, str | None]) -> list[Violation]:
    configs = {c["id"]: c for c in state.auth_scheme_configs}
    found = []
    for kind in KINDS:
        for index, entry in enumerate(connection["credentials"][kind]):
            at = f"/credentials/{kind}/{index}"
            config = configs.get(entry["authSchemeConfig"])
            credential_type = credential_types.get(entry["credential"])
            if config is None:
                found.append(Violation(f"{at}/authSchemeConfig",
                                       "no auth scheme config with this id on the connector"))
            if credential_type is None:
                found.append(Violation(f"{at}/credential", NO_CREDENTIAL))
            elif config is not None and not fits(config["schemeType"], credential_type):
                found.append(Violation(
                    f"{at}/credential", f"a {credential_type} credential cannot serve auth"
                    f" scheme config {config['id']} ({config['schemeType']})"))
    return found


def _with_entry_ids(connection: Mapping[str, Any]) -> dict[str, Any]:
    credentials = {kind: [{"id": f"{kind}-{index}", **entry}
                          for index, entry in enumerate(connection["credentials"][kind])]
                   for kind in KINDS}
    return {**connection, "credentials": credentials}


def plan_connection_fields(state: ConnectorState, fields: Mapping[str, Any]) -> list[Change]:
    """The changes a connector PUT/PATCH makes through ``authSchemeConfigIds`` (a new order)
    and ``connectionVariables`` (set: overwrite every connection's variables); each left out
    (or null) changes nothing."""
    changes: list[Change] = []
    ids = fields.get("authSchemeConfigIds")
    current = [c["id"] for c in state.auth_scheme_configs]
    if ids is not None:
        if sorted(ids) != sorted(current):
            raise ConnectorValidationError([Violation(
                "/authSchemeConfigIds",
                "must list exactly the connector's auth scheme config ids: "
                + (", ".join(current) or "none"))])
        if list(ids) != current:
            changes.append((cev.AuthSchemeConfigsReordered, {"ids": list(ids)}))
    variables = fields.get("connectionVariables")
    if variables is not None:
        wanted = [dict(v) for v in variables]
        unchanged = (wanted == [dict(v) for v in state.connection_variables]
                     and all(c["variables"] == wanted for c in state.connections))
        if not unchanged:
            changes.append((cev.ConnectionVariablesSet, {"variables": wanted}))
    return changes


class ConnectorConnections:
    """The auth scheme config and connection commands of the Connector aggregate."""

    if TYPE_CHECKING:  # provided by the aggregate
        state: ConnectorState

        def visible_state(self) -> ConnectorState: ...

    def add_auth_scheme_config(self, actor: Actor, document: Any) -> dict[str, Any]:
        """Add a config at the end; 409 when its id is taken, 422 when it breaks a rule."""
        state = self.visible_state()
        config, violations = parse_auth_scheme_config(document)
        if violations:
            raise ConnectorValidationError(violations)
        if any(c["id"] == config["id"] for c in state.auth_scheme_configs):
            raise AuthSchemeConfigExistsError(
                f"connector {state.connector_id} already has auth scheme config {config['id']}")
        if len(state.auth_scheme_configs) >= MAX_CONFIGS:
            raise ConnectorValidationError(
                [Violation("", f"a connector has at most {MAX_CONFIGS} auth scheme configs")])
        record_revision(self, actor, [(cev.AuthSchemeConfigAdded, {"config": config})])
        return config

    def replace_auth_scheme_config(self, actor: Actor, config_id: str, document: Any) -> bool:
        """Replace a config whole; its id cannot change, and its scheme type only while no
        connection uses it. False, recording nothing, when nothing changed."""
        state = self.visible_state()
        current = find_config(state, config_id)
        if isinstance(document, Mapping) and "id" not in document:
            document = {**document, "id": config_id}
        config, violations = parse_auth_scheme_config(document)
        if not violations and config["id"] != config_id:
            violations = [Violation("/id", f"must be {config_id!r}: it cannot change")]
        users = _users_of(state, config_id)
        if not violations and users and config["schemeType"] != current["schemeType"]:
            violations = [Violation("/schemeType", "cannot change while connections use the"
                                    " config: " + ", ".join(users))]
        if violations:
            raise ConnectorValidationError(violations)
        if config == dict(current):
            return False
        return record_revision(self, actor, [(cev.AuthSchemeConfigChanged, {"config": config})])

    def remove_auth_scheme_config(self, actor: Actor, config_id: str) -> None:
        """Remove a config; 409 while a connection uses it."""
        state = self.visible_state()
        find_config(state, config_id)
        users = _users_of(state, config_id)
        if users:
            raise AuthSchemeConfigInUseError(config_id, users)
        record_revision(self, actor, [(cev.AuthSchemeConfigRemoved, {"config_id": config_id})])

    def add_connection(self, actor: Actor, connection_id: str, connection: Mapping[str, Any],
                       credential_types: Mapping[str, str | None]) -> dict[str, Any]:
        """Add a parsed connection; variables left out are the connector's
        ``connectionVariables``."""
        state = self.visible_state()
        if any(c["name"] == connection["name"] for c in state.connections):
            raise ConnectionNameTakenError(
                f"connector {state.connector_id} already has a connection {connection['name']}")
        if len(state.connections) >= MAX_CONNECTIONS:
            raise ConnectorValidationError(
                [Violation("", f"a connector has at most {MAX_CONNECTIONS} connections")])
        _check_entries(state, connection, credential_types)
        variables = connection.get("variables", [dict(v) for v in state.connection_variables])
        added = _with_entry_ids({"id": connection_id, **connection, "variables": variables})
        record_revision(self, actor, [(cev.ConnectionAdded, {"connection": added})])
        return added

    def replace_connection(self, actor: Actor, name: str, connection: Mapping[str, Any],
                           credential_types: Mapping[str, str | None]) -> bool:
        """Replace the connection called ``name`` whole (it may be renamed); variables left
        out are kept. False, recording nothing, when nothing changed."""
        state = self.visible_state()
        current = find_connection(state, name)
        if connection["name"] != name and any(c["name"] == connection["name"]
                                              for c in state.connections):
            raise ConnectionNameTakenError(
                f"connector {state.connector_id} already has a connection {connection['name']}")
        _check_entries(state, connection, credential_types)
        variables = connection.get("variables", current["variables"])
        new = _with_entry_ids({"id": current["id"], **connection, "variables": variables})
        old = {k: v for k, v in current.items() if k not in ("createdAt", "updatedAt")}
        if new == old:
            return False
        return record_revision(self, actor, [
            (cev.ConnectionChanged, {"old_name": name, "connection": new})])

    def remove_connection(self, actor: Actor, name: str) -> Mapping[str, Any]:
        """Remove the connection called ``name``; answers it (its credentials to release)."""
        state = self.visible_state()
        current = find_connection(state, name)
        record_revision(self, actor, [
            (cev.ConnectionRemoved, {"connection_id": current["id"], "name": name})])
        return current


    def note_credential_expired(self, actor: Actor, credential_id: str) -> bool:
        """Record that a credential some of its connections use expired; False (nothing
        recorded) when none uses it (any more), or the connector is gone."""
        state = self.state
        if not state.exists or state.erased:
            return False
        users = [c["name"] for c in state.connections
                 if any(e["credential"] == credential_id
                        for kind in KINDS for e in c["credentials"][kind])]
        if not users:
            return False
        return record_revision(self, actor, [(cev.UsedCredentialExpired, {
            "credential_id": credential_id, "connections": users})])


def _users_of(state: ConnectorState, config_id: str) -> list[str]:
    return [c["name"] for c in state.connections
            if any(e["authSchemeConfig"] == config_id
                   for kind in KINDS for e in c["credentials"][kind])]


def _check_entries(state: ConnectorState, connection: Mapping[str, Any],
                   credential_types: Mapping[str, str | None]) -> None:
    violations = _entry_violations(state, connection, credential_types)
    if violations:
        raise ConnectorValidationError(violations)
