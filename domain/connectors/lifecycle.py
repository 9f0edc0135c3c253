"""The lifecycle events of a connector: schemas attached and detached, delete, restore, erase.

``Erased`` alone is not shredded: it stays readable after the erase and carries no content.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar
from uuid import UUID

from domain.connectors.base import ConnectorEvent
from domain.connectors.state import ConnectorState
from domain.ids import encode_schema_id


class SchemaAttached(ConnectorEvent):
    """A schema now belongs to the connector."""

    schema_id: UUID

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, schemas=(*state.schemas, self.schema_id))

    def text(self) -> str:
        return f"Attached schema: {encode_schema_id(self.schema_id)}"


class SchemaDetached(ConnectorEvent):
    """A schema no longer belongs to the connector (it was erased or moved)."""

    schema_id: UUID

    def change(self, state: ConnectorState) -> ConnectorState:
        schemas = tuple(s for s in state.schemas if s != self.schema_id)
        return dataclasses.replace(state, schemas=schemas)

    def text(self) -> str:
        return f"Detached schema: {encode_schema_id(self.schema_id)}"


class Deleted(ConnectorEvent):
    """Soft-deleted: hidden, restorable, history kept; ``cascade`` if its schemas went too."""

    cascade: bool

    def change(self, state: ConnectorState) -> ConnectorState:
        by = self.actor_email or self.actor_subject
        return dataclasses.replace(state, deleted=True, deleted_at=self.timestamp, deleted_by=by)

    def text(self) -> str:
        return "Deleted"


class Restored(ConnectorEvent):
    """A soft-deleted connector was brought back."""

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(state, deleted=False, deleted_at=None, deleted_by=None)

    def text(self) -> str:
        return "Restored"


class Erased(ConnectorEvent):
    """The connector's content was destroyed for good. Carries no content itself."""

    erased_versions: int
    shredded: ClassVar[bool] = False

    def change(self, state: ConnectorState) -> ConnectorState:
        return ConnectorState(id=state.id, tenant=self.tenant, erased=True)

    def stamp(self, state: ConnectorState) -> ConnectorState:
        stamped: ConnectorState = super().stamp(state)
        return dataclasses.replace(stamped, erased_through=self.revision)

    def text(self) -> str:
        return "Erased"
