"""The wire form of auth scheme configs, connections and credential usages (seed 003).

Rendering a connection expands each credential entry to the auth scheme config (with its
computed ``validationMessages``) and the credential document (never its data); a usage names
the connection and a summary of its connector. Lookups go to the read models through the
callables the routes pass in, so these functions stay free of I/O wiring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

import msgspec

from api.models import Base, credential_out
from domain.common import iso_timestamp
from domain.connectors.auth_schemes import with_messages
from domain.connectors.connections import KINDS
from domain.connectors.ids import encode_connector_id
from domain.connectors.state import ConnectorState
from domain.credentials.ids import decode_credential_id
from domain.credentials.state import CredentialState

CredentialLookup = Callable[[UUID], CredentialState | None]
ConnectorLookup = Callable[[UUID], ConnectorState | None]


class VariableOut(Base):
    """A connection variable."""

    name: str
    value: str


class ConnectionEntryOut(Base):
    """One credential of a connection, applied in list order."""

    id: str
    auth_scheme_config: dict[str, Any]
    credential: dict[str, Any]


class ConnectionCredentialsOut(Base):
    """The credentials a connection applies to actions and to triggers."""

    action: list[ConnectionEntryOut]
    trigger: list[ConnectionEntryOut]


class ConnectionOut(Base):
    """A connection of a connector."""

    id: str
    name: str
    connector_id: str
    credentials: ConnectionCredentialsOut
    variables: list[VariableOut]
    created_at: str
    updated_at: str


class ConnectionList(Base):
    """Every connection of a connector, in creation order."""

    connections: list[ConnectionOut]


class AuthSchemeConfigList(Base):
    """Every auth scheme config of a connector, in its order."""

    auth_scheme_configs: list[dict[str, Any]]


def auth_scheme_config_out(state: ConnectorState, config_id: str) -> dict[str, Any]:
    """One stored config with its ``validationMessages``."""
    config = next(c for c in state.auth_scheme_configs if c["id"] == config_id)
    return with_messages(config)


def connection_out(state: ConnectorState, connection: Mapping[str, Any],
                   credentials: CredentialLookup) -> ConnectionOut:
    """A connection with every entry expanded (config and credential document)."""
    configs = {c["id"]: c for c in state.auth_scheme_configs}
    lists = {kind: [ConnectionEntryOut(
        id=entry["id"], auth_scheme_config=with_messages(configs[entry["authSchemeConfig"]]),
        credential=_credential(entry["credential"], credentials))
        for entry in connection["credentials"][kind]] for kind in KINDS}
    return ConnectionOut(
        id=connection["id"], name=connection["name"], connector_id=state.connector_id,
        credentials=ConnectionCredentialsOut(**lists),
        variables=[VariableOut(**v) for v in connection["variables"]],
        created_at=connection["createdAt"], updated_at=connection["updatedAt"])


def _credential(crd: str, credentials: CredentialLookup) -> dict[str, Any]:
    uuid = decode_credential_id(crd)
    state = credentials(uuid) if uuid is not None else None
    if state is None or not state.exists:
        return {"id": crd, "status": "erased"}
    document: dict[str, Any] = msgspec.to_builtins(credential_out(state))
    return document


def usages_out(state: CredentialState, connectors: ConnectorLookup,
               sees: Callable[[ConnectorState], bool]) -> list[dict[str, Any]]:
    """A credential's usages in seed 003's shape: the connection and a summary of its
    connector. A connector the caller may not see is named by its id alone, the connection
    by its id and the name the credential recorded (its history shows that name anyway)."""
    found = []
    for usage in state.usages:
        connector_uuid = UUID(usage["connectorId"])
        connector = connectors(connector_uuid)
        summary: dict[str, Any] = {"id": encode_connector_id(connector_uuid)}
        connection: dict[str, Any] = {"id": usage["connectionId"],
                                      "name": usage["connectionName"]}
        if connector is not None and connector.exists and sees(connector):
            summary |= {"tenantId": connector.tenant, "name": connector.name,
                        "protocol": connector.protocol,
                        "createdAt": iso_timestamp(connector.created_at),
                        "updatedAt": iso_timestamp(connector.updated_at)}
            current = next((c for c in connector.connections
                            if c["id"] == usage["connectionId"]), None)
            if current is not None:
                connection |= {"name": current["name"], "createdAt": current["createdAt"],
                               "updatedAt": current["updatedAt"]}
        found.append({"connection": {**connection, "connector": summary}})
    return found
