"""The lifecycle events of a connector: its schemas coming and going, delete, restore, erase.

The connector records every change to the set of schemas it holds (attached on create,
deleted, restored, detached on erase), so the rules that depend on that set (no live schema
under a deleted connector, erase takes them all) are decided by this one aggregate, and a
schema command that races a connector command fails on the connector's version.

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
        schemas = state.schemas if self.schema_id in state.schemas else (
            *state.schemas, self.schema_id)
        deleted = tuple(s for s in state.deleted_schemas if s != self.schema_id)
        return dataclasses.replace(state, schemas=schemas, deleted_schemas=deleted)

    def text(self) -> str:
        return f"Attached schema: {encode_schema_id(self.schema_id)}"


class SchemaDeleted(ConnectorEvent):
    """One of the connector's schemas was soft-deleted (it stays held, for restore and erase)."""

    schema_id: UUID

    def change(self, state: ConnectorState) -> ConnectorState:
        return dataclasses.replace(
            state, deleted_schemas=(*state.deleted_schemas, self.schema_id))

    def text(self) -> str:
        return f"Deleted schema: {encode_schema_id(self.schema_id)}"


class SchemaRestored(ConnectorEvent):
    """A soft-deleted schema of the connector was brought back."""

    schema_id: UUID

    def change(self, state: ConnectorState) -> ConnectorState:
        deleted = tuple(s for s in state.deleted_schemas if s != self.schema_id)
        return dataclasses.replace(state, deleted_schemas=deleted)

    def text(self) -> str:
        return f"Restored schema: {encode_schema_id(self.schema_id)}"


class SchemaDetached(ConnectorEvent):
    """A schema no longer belongs to the connector: it was erased."""

    schema_id: UUID

    def change(self, state: ConnectorState) -> ConnectorState:
        schemas = tuple(s for s in state.schemas if s != self.schema_id)
        deleted = tuple(s for s in state.deleted_schemas if s != self.schema_id)
        return dataclasses.replace(state, schemas=schemas, deleted_schemas=deleted)

    def text(self) -> str:
        return f"Erased schema: {encode_schema_id(self.schema_id)}"


class Deleted(ConnectorEvent):
    """Soft-deleted: hidden, restorable, history kept; ``cascade`` if its schemas went too.

    Either way no schema of a deleted connector is live: without cascade there were none.
    """

    cascade: bool

    def change(self, state: ConnectorState) -> ConnectorState:
        by = self.actor_email or self.actor_subject
        return dataclasses.replace(state, deleted=True, deleted_at=self.timestamp, deleted_by=by,
                                   deleted_schemas=state.schemas)

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
