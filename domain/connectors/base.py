"""The base of every connector event: revision, actor, shredding, state evolution, texts.

Every event of one command carries the same ``revision`` and timestamp. All of them except
``Erased`` are *shredded*: encrypted with the connector's own data key, so an erase that
destroys the key leaves nothing readable, config and credential values included.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate, AggregateEvent

from domain.connectors.state import ConnectorState


def render(value: Any) -> str:
    """A value in a change text: strings bare, everything else as JSON (as for schemas)."""
    return value if isinstance(value, str) else json.dumps(value)


class ConnectorEvent(Aggregate.Event):
    """Base of every connector event: which revision, which tenant, which actor."""

    revision: int
    tenant: str
    actor_subject: str
    actor_email: str | None
    app_id: str | None

    shredded: ClassVar[bool] = True
    """Encrypted with the connector's own data key, destroyed by an erase."""
    redacted_class: ClassVar[type[AggregateEvent]]
    """What an event of this aggregate reads back as once its key is destroyed."""

    def apply(self, aggregate: Any) -> None:
        aggregate.state = self.evolve(aggregate.state)

    def evolve(self, state: ConnectorState) -> ConnectorState:
        """The state after this event."""
        return self.stamp(self.change(state))

    def change(self, state: ConnectorState) -> ConnectorState:
        """What this event changes; the base changes nothing."""
        return state

    def stamp(self, state: ConnectorState) -> ConnectorState:
        """Record the revision, when and by whom."""
        return dataclasses.replace(
            state, tenant=self.tenant, revision=self.revision, updated_at=self.timestamp,
            updated_by=self.actor_email or self.actor_subject,
        )

    def text(self) -> str:
        """The change text history shows for this event."""
        raise NotImplementedError


def change_texts(events: list[Any]) -> list[str]:
    """The change texts of one revision's events, in event order, each once."""
    texts = [event.text() for event in events if isinstance(event, ConnectorEvent)]
    return list(dict.fromkeys(texts))
