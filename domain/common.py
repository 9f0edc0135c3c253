"""What every aggregate shares: who acted, how time is written, what erased events read as.

Aggregates import this module, never each other, so a new aggregate does not depend on the
schema aggregate just to say who changed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

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


def iso_timestamp(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with microseconds and a ``Z``, or ``None``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_timestamp(text: str | None) -> datetime | None:
    """The inverse of :func:`iso_timestamp`."""
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)
