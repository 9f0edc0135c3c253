"""The events of a connector's auth scheme configs and connections, and how history words them.

They belong to the Connector aggregate like every connector event: one revision per accepted
command, shredded with the connector's key. A connection stores credential *ids* (``crd_``),
never a credential value; the credential records its own usage in the same save.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from domain.common import iso_timestamp
from domain.connectors.base import ConnectorEvent
from domain.connectors.state import ConnectorState


class AuthSchemeConfigAdded(ConnectorEvent):
    """An auth scheme config was added at the end of the list."""

    config: dict[str, Any]

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(
            state, auth_scheme_configs=(*state.auth_scheme_configs, dict(self.config)))

    def text(self) -> str:
        return f"Added auth scheme config {self.config['id']}"


class AuthSchemeConfigChanged(ConnectorEvent):
    """An auth scheme config was replaced in place (same id, same position)."""

    config: dict[str, Any]

    def change(self, state: ConnectorState) -> ConnectorState:
        configs = tuple(dict(self.config) if c["id"] == self.config["id"] else c
                        for c in state.auth_scheme_configs)
        return dataclasses.replace(state, auth_scheme_configs=configs)

    def text(self) -> str:
        return f"Changed auth scheme config {self.config['id']}"


class AuthSchemeConfigRemoved(ConnectorEvent):
    """An auth scheme config no connection used was removed."""

    config_id: str

    def change(self, state: ConnectorState) -> ConnectorState:
        configs = tuple(c for c in state.auth_scheme_configs if c["id"] != self.config_id)
        return dataclasses.replace(state, auth_scheme_configs=configs)

    def text(self) -> str:
        return f"Removed auth scheme config {self.config_id}"


class AuthSchemeConfigsReordered(ConnectorEvent):
    """The auth scheme configs were put in a new order (``ids``: all of them)."""

    ids: list[str]

    def change(self, state: ConnectorState) -> ConnectorState:
        by_id = {c["id"]: c for c in state.auth_scheme_configs}
        return dataclasses.replace(state,
                                   auth_scheme_configs=tuple(by_id[i] for i in self.ids))

    def text(self) -> str:
        return "Reordered auth scheme configs"


class ConnectionAdded(ConnectorEvent):
    """A connection was added: ``{id, name, credentials, variables}``."""

    connection: dict[str, Any]

    def change(self, state: ConnectorState) -> ConnectorState:
        at = iso_timestamp(self.timestamp)
        added = {**self.connection, "createdAt": at, "updatedAt": at}
        return dataclasses.replace(state, connections=(*state.connections, added))

    def text(self) -> str:
        return f"Added connection {self.connection['name']}"


class ConnectionChanged(ConnectorEvent):
    """A connection was replaced whole (its id and creation time stay)."""

    old_name: str
    connection: dict[str, Any]

    def change(self, state: ConnectorState) -> ConnectorState:
        at = iso_timestamp(self.timestamp)
        connections = tuple(
            {**self.connection, "createdAt": c["createdAt"], "updatedAt": at}
            if c["id"] == self.connection["id"] else c
            for c in state.connections)
        return dataclasses.replace(state, connections=connections)

    def text(self) -> str:
        if self.old_name != self.connection["name"]:
            return f"Changed connection {self.old_name} -> {self.connection['name']}"
        return f"Changed connection {self.old_name}"


class ConnectionRemoved(ConnectorEvent):
    """A connection was removed; its credentials were released in the same save."""

    connection_id: str
    name: str

    def change(self, state: ConnectorState) -> ConnectorState:
        connections = tuple(c for c in state.connections if c["id"] != self.connection_id)
        return dataclasses.replace(state, connections=connections)

    def text(self) -> str:
        return f"Removed connection {self.name}"


class ConnectionVariablesSet(ConnectorEvent):
    """The connector's ``connectionVariables`` were set: they overwrite the variables of
    every connection it has."""

    variables: list[dict[str, Any]]

    def change(self, state: ConnectorState) -> ConnectorState:
        at = iso_timestamp(self.timestamp)
        variables = [dict(v) for v in self.variables]
        connections = tuple({**c, "variables": variables, "updatedAt": at}
                            for c in state.connections)
        return dataclasses.replace(state, connection_variables=tuple(variables),
                                   connections=connections)

    def text(self) -> str:
        return "Set connection variables"


class UsedCredentialExpired(ConnectorEvent):
    """A credential its connections use expired and was deleted by the registry (seed 003:
    the ``expired`` delete is how whoever relies on it learns so). Changes nothing else: the
    connections keep naming it, and show it deleted, until someone fixes them."""

    credential_id: str
    connections: list[str]

    def text(self) -> str:
        return (f"Credential {self.credential_id} expired (used by connection"
                f"{'s' if len(self.connections) > 1 else ''} {', '.join(self.connections)})")
