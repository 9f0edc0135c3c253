"""The Schema aggregate: every accepted change is recorded as past-tense events.

One accepted command that changes something is one *revision* (the API's ``version``); every
event of that command carries the same ``revision``. Each event knows how to ``evolve`` a
:class:`SchemaState`, so the aggregate and the read models share one definition of the state.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.common import Actor, Redacted, RevisionEvent, revision_meta
from domain.errors import (
    SchemaAlreadyExistsError,
    SchemaDeletedError,
    SchemaErasedError,
    SchemaNotDeletedError,
    SchemaNotFoundError,
)
from domain.ids import encode_schema_id, schema_uuid
from domain.model import FIELD_ATTRIBUTES, Field, Relationship, SchemaContent, fingerprint


class Keep(Enum):
    """The compatibility argument of a command that leaves the schema's mode as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP
Requested = str | None | Keep
"""A command's compatibility: a mode, ``None`` (inherit the connector's) or :data:`KEEP`."""


@dataclass(frozen=True)
class SchemaState:
    """Everything known about a schema after some revision."""

    id: UUID
    tenant: str = ""
    connector_id: str | None = None
    key: str | None = None
    content: SchemaContent | None = None
    revision: int = 0
    deleted: bool = False
    erased: bool = False
    erased_through: int = 0
    created_at: datetime | None = None
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    compatibility: str | None = None
    """The schema's own compatibility mode; ``None`` inherits its connector's."""

    @property
    def exists(self) -> bool:
        """True while the schema has content (not never-created, not erased)."""
        return self.content is not None

    @property
    def schema_id(self) -> str:
        """The public ``sch_`` id."""
        return encode_schema_id(self.id)


class Schema(Aggregate):
    """A universal-connector schema, identified by tenant, connector and key."""

    def __init__(self) -> None:
        self.state = SchemaState(id=self.id)

    class Event(RevisionEvent):
        """Base of every schema event (see :class:`RevisionEvent`)."""

        def evolve(self, state: SchemaState) -> SchemaState:
            """The state after this event."""
            new: SchemaState = super().evolve(state)
            return new

    class Created(Event, Aggregate.Created):
        """The schema was created."""

        connector_id: str
        key: str
        name: str
        entity_type: str
        fields: list[dict[str, Any]]
        relationships: list[dict[str, Any]]

        def change(self, state: SchemaState) -> SchemaState:
            return _created(self, state)

    class Recreated(Event):
        """The key of an erased schema was created again: a fresh schema, same id."""

        connector_id: str
        key: str
        name: str
        entity_type: str
        fields: list[dict[str, Any]]
        relationships: list[dict[str, Any]]

        def change(self, state: SchemaState) -> SchemaState:
            return _created(self, state)

    class FieldAdded(Event):
        """A field was appended."""

        field: dict[str, Any]

        def change(self, state: SchemaState) -> SchemaState:
            content = _require(state)
            fields = (*content.fields, Field.from_dict(self.field))
            return dataclasses.replace(state, content=dataclasses.replace(content, fields=fields))

    class FieldRemoved(Event):
        """A field was removed."""

        name: str

        def change(self, state: SchemaState) -> SchemaState:
            content = _require(state)
            fields = tuple(f for f in content.fields if f.name != self.name)
            return dataclasses.replace(state, content=dataclasses.replace(content, fields=fields))

    class FieldChanged(Event):
        """Attributes of a field (type, primary, required, description) changed."""

        name: str
        changes: dict[str, Any]

        def change(self, state: SchemaState) -> SchemaState:
            content = _require(state)
            fields = tuple(
                dataclasses.replace(f, **self.changes) if f.name == self.name else f
                for f in content.fields
            )
            return dataclasses.replace(state, content=dataclasses.replace(content, fields=fields))

    class Renamed(Event):
        """The schema's display name changed."""

        name: str

        def change(self, state: SchemaState) -> SchemaState:
            content = dataclasses.replace(_require(state), name=self.name)
            return dataclasses.replace(state, content=content)

    class EntityTypeChanged(Event):
        """The entity type the schema describes changed."""

        entity_type: str

        def change(self, state: SchemaState) -> SchemaState:
            content = dataclasses.replace(_require(state), entity_type=self.entity_type)
            return dataclasses.replace(state, content=content)

    class RelationshipAdded(Event):
        """A relationship was appended."""

        relationship: dict[str, Any]

        def change(self, state: SchemaState) -> SchemaState:
            content = _require(state)
            rels = (*content.relationships, Relationship.from_dict(self.relationship))
            content = dataclasses.replace(content, relationships=rels)
            return dataclasses.replace(state, content=content)

    class RelationshipRemoved(Event):
        """A relationship was removed."""

        name: str

        def change(self, state: SchemaState) -> SchemaState:
            content = _require(state)
            rels = tuple(r for r in content.relationships if r.name != self.name)
            content = dataclasses.replace(content, relationships=rels)
            return dataclasses.replace(state, content=content)

    class CompatibilityChanged(Event):
        """The schema's own compatibility mode changed (``None``: inherit the connector's)."""

        mode: str | None

        def change(self, state: SchemaState) -> SchemaState:
            return dataclasses.replace(state, compatibility=self.mode)

    class Deleted(Event):
        """The schema was soft-deleted: hidden, restorable, history kept."""

        def change(self, state: SchemaState) -> SchemaState:
            by = self.actor_email or self.actor_subject
            return dataclasses.replace(
                state, deleted=True, deleted_at=self.timestamp, deleted_by=by
            )

    class Restored(Event):
        """A soft-deleted schema was brought back."""

        def change(self, state: SchemaState) -> SchemaState:
            return dataclasses.replace(state, deleted=False, deleted_at=None, deleted_by=None)

    class Erased(Event):
        """The schema's content was destroyed for good. Carries no content itself."""

        erased_versions: int
        erased_since: datetime | None
        """When the first erased version was made (the create, or the re-create after an
        earlier erase): reads as of a moment since then answer 410. ``None`` on erases
        recorded before it was kept."""
        shredded: ClassVar[bool] = False
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Erases recorded before ``erased_since`` existed do not know it."""
            state["erased_since"] = None

        def change(self, state: SchemaState) -> SchemaState:
            return SchemaState(id=state.id, tenant=self.tenant, erased=True)

        def stamp(self, state: SchemaState) -> SchemaState:
            stamped: SchemaState = super().stamp(state)
            return dataclasses.replace(stamped, erased_through=self.revision)

    # Commands -------------------------------------------------------------------------------

    @classmethod
    def create(
        cls, actor: Actor, connector_id: str, key: str, content: SchemaContent,
        compatibility: str | None = None,
    ) -> Schema:
        """Create a new schema; its id follows from tenant, connector and key. A given
        compatibility mode is recorded in the same revision, right after the creation."""
        meta = revision_meta(actor, 1)
        schema = cls._create(
            cls.Created,
            id=schema_uuid(actor.tenant, connector_id, key),
            **meta,
            **_content_kwargs(connector_id, key, content),
        )
        if compatibility is not None:
            schema.trigger_event(cls.CompatibilityChanged, **meta, mode=compatibility)
        return schema

    def recreate(
        self, actor: Actor, connector_id: str, key: str, content: SchemaContent,
        compatibility: str | None = None,
    ) -> None:
        """Create the key again after an erase; refuses while the schema still exists."""
        state = self.state
        if state.exists:
            raise SchemaAlreadyExistsError(state.schema_id, deleted=state.deleted)
        meta = revision_meta(actor, state.revision + 1)
        self.trigger_event(self.Recreated, **meta, **_content_kwargs(connector_id, key, content))
        if compatibility is not None:
            self.trigger_event(self.CompatibilityChanged, **meta, mode=compatibility)

    def holds(self, content: SchemaContent, compatibility: Requested = KEEP) -> bool:
        """True when the schema is live, not deleted, its content is ``content`` (same
        fingerprint) and its own mode is ``compatibility`` (unless that is :data:`KEEP`): a
        create of its key with that content then changes nothing."""
        state = self.state
        return (state.content is not None and not state.deleted
                and fingerprint(state.content) == fingerprint(content)
                and compatibility in (KEEP, state.compatibility))

    def replace(
        self, actor: Actor, content: SchemaContent, compatibility: Requested = KEEP
    ) -> bool:
        """Make the content equal ``content`` and the own mode ``compatibility`` (unless
        :data:`KEEP`); one revision, or nothing when unchanged."""
        state = self.visible_state()
        meta = revision_meta(actor, state.revision + 1)
        changes = plan_changes(_require(state), content)
        if compatibility is not KEEP and compatibility != state.compatibility:
            changes.append((Schema.CompatibilityChanged, {"mode": compatibility}))
        for event_class, payload in changes:
            self.trigger_event(event_class, **meta, **payload)
        return bool(changes)

    def mode_after(self, compatibility: Requested) -> str | None:
        """The schema's own mode once a command with ``compatibility`` is done."""
        return self.state.compatibility if compatibility is KEEP else compatibility

    def delete(self, actor: Actor) -> None:
        """Soft-delete the schema."""
        self.visible_state()
        self.trigger_event(self.Deleted, **revision_meta(actor, self.state.revision + 1))

    def restore(self, actor: Actor) -> None:
        """Bring back a soft-deleted schema."""
        state = self.live_state()
        if not state.deleted:
            raise SchemaNotDeletedError(f"schema {state.schema_id} is not deleted")
        self.trigger_event(self.Restored, **revision_meta(actor, state.revision + 1))

    def erase(self, actor: Actor) -> None:
        """Destroy the schema's content for good (deleted or not)."""
        state = self.live_state()
        self.trigger_event(
            self.Erased,
            **revision_meta(actor, state.revision + 1),
            erased_versions=state.revision - state.erased_through,
            erased_since=state.created_at,
        )

    def live_state(self) -> SchemaState:
        """The state, or the error of a schema that is erased or never was."""
        if self.state.erased:
            raise SchemaErasedError(f"schema {self.state.schema_id} was erased")
        if not self.state.exists:
            raise SchemaNotFoundError(f"schema {self.state.schema_id} does not exist")
        return self.state

    def visible_state(self) -> SchemaState:
        """The state of a schema that is neither erased nor soft-deleted."""
        state = self.live_state()
        if state.deleted:
            raise SchemaDeletedError(f"schema {state.schema_id} is deleted")
        return state


class SchemaRedacted(Redacted):
    """Stands in for a schema event whose data key was destroyed by an erase."""


SchemaRedacted.restores = (Schema, SchemaState)
Schema.Event.redacted_class = SchemaRedacted


def _created(event: Schema.Created | Schema.Recreated, state: SchemaState) -> SchemaState:
    return dataclasses.replace(
        state,
        connector_id=event.connector_id,
        key=event.key,
        content=SchemaContent.from_document(
            {"name": event.name, "entityType": event.entity_type, "fields": event.fields,
             "relationships": event.relationships}
        ),
        deleted=False,
        erased=False,
        created_at=event.timestamp,
        created_by=event.actor_email or event.actor_subject,
        deleted_at=None,
        deleted_by=None,
    )


def _require(state: SchemaState) -> SchemaContent:
    if state.content is None:
        raise SchemaNotFoundError(f"schema {state.schema_id} has no content")
    return state.content


def _content_kwargs(connector_id: str, key: str, content: SchemaContent) -> dict[str, Any]:
    return {
        "connector_id": connector_id,
        "key": key,
        "name": content.name,
        "entity_type": content.entity_type,
        "fields": [f.to_dict() for f in content.fields],
        "relationships": [r.to_dict() for r in content.relationships],
    }


Change = tuple[type[Schema.Event], dict[str, Any]]


def plan_changes(old: SchemaContent, new: SchemaContent) -> list[Change]:
    """The events that turn ``old`` into ``new``, in a stable order."""
    changes: list[Change] = []
    if old.name != new.name:
        changes.append((Schema.Renamed, {"name": new.name}))
    if old.entity_type != new.entity_type:
        changes.append((Schema.EntityTypeChanged, {"entity_type": new.entity_type}))
    changes += _field_changes(old.fields, new.fields)
    old_rels = {r.name: r for r in old.relationships}
    new_rels = {r.name: r for r in new.relationships}
    for name, rel in old_rels.items():
        if new_rels.get(name) != rel:
            changes.append((Schema.RelationshipRemoved, {"name": name}))
    for name, rel in new_rels.items():
        if old_rels.get(name) != rel:
            changes.append((Schema.RelationshipAdded, {"relationship": rel.to_dict()}))
    return changes


def _field_changes(old: tuple[Field, ...], new: tuple[Field, ...]) -> list[Change]:
    old_by_name = {f.name: f for f in old}
    new_by_name = {f.name: f for f in new}
    changes: list[Change] = [
        (Schema.FieldRemoved, {"name": name}) for name in old_by_name if name not in new_by_name
    ]
    for name, field in new_by_name.items():
        before = old_by_name.get(name)
        if before is None:
            changes.append((Schema.FieldAdded, {"field": field.to_dict()}))
            continue
        diff = {
            attr: getattr(field, attr)
            for attr in FIELD_ATTRIBUTES
            if getattr(field, attr) != getattr(before, attr)
        }
        if diff:
            changes.append((Schema.FieldChanged, {"name": name, "changes": diff}))
    return changes
