"""What every aggregate shares: who acted, how time is written, what erased events read as.

Aggregates import this module, never each other, so a new aggregate does not depend on the
schema aggregate just to say who changed it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, AggregateEvent

REDACTED_AT = datetime(1970, 1, 1, tzinfo=UTC)
"""The timestamp of an event read back after its data key was destroyed."""


@dataclass(frozen=True)
class Actor:
    """Who asked for a change: subject, tenant, and optionally e-mail and client application."""

    subject: str
    tenant: str
    email: str | None = None
    app_id: str | None = None

    @property
    def name(self) -> str:
        """How history shows the actor: the e-mail when known, else the subject."""
        return self.email or self.subject


@dataclass(frozen=True)
class RevisionState:
    """What the state of every aggregate recorded in revisions (connectors, credentials)
    starts with: its id and tenant, the revision and who made it, and its lifecycle."""

    id: UUID
    tenant: str = ""
    app_id: str | None = None
    revision: int = 0
    created_at: datetime | None = None
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
    deleted: bool = False
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    erased: bool = False
    erased_through: int = 0

    @property
    def version(self) -> int:
        """The API's name for the revision: the optimistic-concurrency counter."""
        return self.revision


def iso_timestamp(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with microseconds and a ``Z``, or ``None``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_timestamp(text: str | None) -> datetime | None:
    """The inverse of :func:`iso_timestamp`."""
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def render(value: Any) -> str:
    """A value in a change text: strings bare, everything else as JSON (as for schemas)."""
    return value if isinstance(value, str) else json.dumps(value)


class RevisionEvent(Aggregate.Event):
    """Base of the events of aggregates whose every accepted command is one *revision*
    (schemas, connectors): which revision, which tenant, which actor.

    Each event ``evolve``s a frozen state that the aggregate and the read models share; the
    state has ``tenant``, ``revision``, ``updated_at`` and ``updated_by``.
    """

    revision: int
    tenant: str
    actor_subject: str
    actor_email: str | None
    app_id: str | None

    shredded: ClassVar[bool] = True
    """Encrypted with the aggregate's own data key, destroyed by an erase."""
    redacted_class: ClassVar[type[AggregateEvent]]
    """What an event of this aggregate reads back as once its key is destroyed."""

    def apply(self, aggregate: Any) -> None:
        aggregate.state = self.evolve(aggregate.state)

    def evolve(self, state: Any) -> Any:
        """The state after this event."""
        return self.stamp(self.change(state))

    def change(self, state: Any) -> Any:
        """What this event changes; the base changes nothing."""
        return state

    def stamp(self, state: Any) -> Any:
        """Record the revision, when and by whom."""
        return dataclasses.replace(
            state,
            tenant=self.tenant,
            revision=self.revision,
            updated_at=self.timestamp,
            updated_by=self.actor_email or self.actor_subject,
        )


def revision_meta(actor: Actor, revision: int) -> dict[str, Any]:
    """The stamp of every event of one revision: one timestamp (the revision's
    ``changedAt``), its number, and who made it."""
    return {
        "timestamp": AggregateEvent.create_timestamp(),
        "revision": revision,
        "tenant": actor.tenant,
        "actor_subject": actor.subject,
        "actor_email": actor.email,
        "app_id": actor.app_id,
    }


def record_revision(
    aggregate: Any, actor: Actor, changes: Sequence[tuple[type[Any], dict[str, Any]]]
) -> bool:
    """Trigger a command's events as one revision after the aggregate's current one: one
    shared number and timestamp. False, recording nothing, when there are no changes."""
    meta = revision_meta(actor, aggregate.state.revision + 1)
    for event_class, payload in changes:
        aggregate.trigger_event(event_class, **meta, **payload)
    return bool(changes)


class Redacted(AggregateEvent):
    """Stands in for an event whose data key was destroyed by an erase: it carries nothing
    but its position; it is never stored, only read back.

    Each aggregate names what it rebuilds (``restores``: the aggregate class and its state
    class), so a stream read back redacted gives an aggregate with an empty state.
    """

    shredded: ClassVar[bool] = False
    restores: ClassVar[tuple[Any, Any]]

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is None:
            aggregate_class, state_class = self.restores
            aggregate = aggregate_class.__new__(aggregate_class)
            aggregate.__base_init__(self.originator_id, self.originator_version, self.timestamp)
            aggregate.state = state_class(id=self.originator_id)
        else:
            aggregate.version = self.originator_version
        return aggregate
