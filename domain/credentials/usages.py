"""Which connections use a credential: recorded by the credential itself.

The application records ``UsedByConnection`` / ``ReleasedByConnection`` in the same save as
the connector's connection change, so a credential's ``usages`` come from its own state and
a delete that races a new connection fails on the credential's version instead of leaving
a connection with a deleted credential.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.common import Actor, record_revision
from domain.connectors.ids import encode_connector_id
from domain.credentials.events import CredentialEvent
from domain.credentials.state import CredentialState


class UsedByConnection(CredentialEvent):
    """A connection of a connector now uses the credential."""

    connector_id: UUID
    connection_id: str
    connection_name: str

    def change(self, state: CredentialState) -> CredentialState:
        usage = {"connectorId": str(self.connector_id), "connectionId": self.connection_id,
                 "connectionName": self.connection_name}
        kept = tuple(u for u in state.usages if u["connectionId"] != self.connection_id)
        return dataclasses.replace(state, usages=(*kept, usage))

    def text(self) -> str:
        return (f"Used by connection {self.connection_name} of connector "
                f"{encode_connector_id(self.connector_id)}")


class ReleasedByConnection(CredentialEvent):
    """A connection no longer uses the credential (changed, removed, or its connector
    erased)."""

    connector_id: UUID
    connection_id: str
    connection_name: str

    def change(self, state: CredentialState) -> CredentialState:
        kept = tuple(u for u in state.usages if u["connectionId"] != self.connection_id)
        return dataclasses.replace(state, usages=kept)

    def text(self) -> str:
        return (f"Released by connection {self.connection_name} of connector "
                f"{encode_connector_id(self.connector_id)}")


class CredentialUsages:
    """The usage commands of the Credential aggregate."""

    if TYPE_CHECKING:  # provided by the aggregate
        state: CredentialState

        def visible_state(self) -> CredentialState: ...

        def live_state(self) -> CredentialState: ...

    def use(self, actor: Actor, connector_id: UUID, connection_id: str, name: str) -> None:
        """A connection starts using the credential, which must be live (not deleted); a
        renamed connection records its new name."""
        state = self.visible_state()
        if any(u["connectionId"] == connection_id and u["connectionName"] == name
               for u in state.usages):
            return
        record_revision(self, actor, [(UsedByConnection, _usage(connector_id, connection_id,
                                                                 name))])

    def release(self, actor: Actor, connector_id: UUID, connection_id: str, name: str) -> bool:
        """A connection stops using the credential (deleted ones too); False when it did
        not use it, or the credential was erased."""
        if self.state.erased or not any(u["connectionId"] == connection_id
                                        for u in self.state.usages):
            return False
        return record_revision(self, actor, [
            (ReleasedByConnection, _usage(connector_id, connection_id, name))])


def _usage(connector_id: UUID, connection_id: str, name: str) -> dict[str, Any]:
    return {"connector_id": connector_id, "connection_id": connection_id,
            "connection_name": name}
