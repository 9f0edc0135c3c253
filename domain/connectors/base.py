"""The base of every connector event: revision, actor, shredding, state evolution, texts.

Every event of one command carries the same ``revision`` and timestamp. All of them except
``Erased`` are *shredded*: encrypted with the connector's own data key, so an erase that
destroys the key leaves nothing readable, config and credential values included.
"""

from __future__ import annotations

import re
from typing import Any

from domain.common import RevisionEvent, render
from domain.connectors.state import ConnectorState

__all__ = ["ConnectorEvent", "change_texts", "render"]


class ConnectorEvent(RevisionEvent):
    """Base of every connector event (see :class:`domain.common.RevisionEvent`)."""

    def evolve(self, state: ConnectorState) -> ConnectorState:
        """The state after this event."""
        new: ConnectorState = super().evolve(state)
        return new

    def text(self) -> str:
        """The change text history shows for this event; each event class words its own,
        and this fallback ("SchemaAttached" → "Schema attached") only names the event."""
        words = re.sub(r"(?<!^)([A-Z])", r" \1", type(self).__name__).lower()
        return words[:1].upper() + words[1:]


def change_texts(events: list[Any]) -> list[str]:
    """The change texts of one revision's events, in event order, each once."""
    texts = [event.text() for event in events if isinstance(event, ConnectorEvent)]
    return list(dict.fromkeys(texts))
