"""The events of a credential: what each changes, how history words it.

Every event of one command carries the same ``revision`` and timestamp. All except ``Erased``
are *shredded*: encrypted with the credential's own data key. ``Created`` and
``DataReplaced`` hold the only copy of the data values; the state keeps their names alone, and
no change text ever shows a value.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.common import RevisionEvent, iso_timestamp, parse_timestamp, render
from domain.connectors.ids import encode_connector_id
from domain.credentials.state import CredentialState

EXPIRED = "expired"
"""The ``reason`` of a delete made by the expiry of a credential."""


class CredentialEvent(RevisionEvent):
    """Base of every credential event (see :class:`domain.common.RevisionEvent`)."""

    def evolve(self, state: CredentialState) -> CredentialState:
        """The state after this event."""
        new: CredentialState = super().evolve(state)
        return new

    def text(self) -> str:
        """The change text history shows for this event."""
        return type(self).__name__


class Created(CredentialEvent, Aggregate.Created):
    """The credential was created with its data; ``connector_id`` names the connector that
    owns it, when it holds a connector's inline credentials."""

    class_version = 2

    name: str
    type: str
    expires_at: str | None
    data: dict[str, Any]
    connector_id: UUID | None

    def change(self, state: CredentialState) -> CredentialState:
        state = dataclasses.replace(
            state, app_id=self.app_id, created_at=self.timestamp,
            created_by=self.actor_email or self.actor_subject, type=self.type, name=self.name,
            expires_at=parse_timestamp(self.expires_at), connector_id=self.connector_id)
        return _with_data(state, self.data, self.timestamp)

    def text(self) -> str:
        if self.connector_id is None:
            return "Initial creation"
        owner = encode_connector_id(self.connector_id)
        return f"Initial creation (credentials of connector {owner})"

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 1 credentials were all the tenant's own."""
        state["connector_id"] = None


class Renamed(CredentialEvent):
    """The credential's name changed."""

    old: str
    new: str

    def change(self, state: CredentialState) -> CredentialState:
        return dataclasses.replace(state, name=self.new)

    def text(self) -> str:
        return f"Renamed credential: {self.old} -> {self.new}"


class ExpiryChanged(CredentialEvent):
    """When the credential expires changed (``None``: never)."""

    old: str | None
    new: str | None

    def change(self, state: CredentialState) -> CredentialState:
        return dataclasses.replace(state, expires_at=parse_timestamp(self.new))

    def text(self) -> str:
        return f"Changed expiresAt: {render(self.old)} -> {render(self.new)}"


class DataReplaced(CredentialEvent):
    """New data (a rotation): the values live only here."""

    data: dict[str, Any]

    def change(self, state: CredentialState) -> CredentialState:
        return _with_data(state, self.data, self.timestamp)

    def text(self) -> str:
        return "Changed credential data"


class Validated(CredentialEvent):
    """A connection test used the credential: ``errors`` is ``[]`` when it worked, else what
    the system said (never a value)."""

    errors: list[str]

    def change(self, state: CredentialState) -> CredentialState:
        return dataclasses.replace(state, errors=tuple(self.errors))

    def text(self) -> str:
        return "Validated: ok" if not self.errors else "Validated: failed"


class Deleted(CredentialEvent):
    """Soft-deleted by a caller, or by its expiry (``reason`` ``expired``)."""

    reason: str | None

    def change(self, state: CredentialState) -> CredentialState:
        return dataclasses.replace(state, deleted=True, deleted_at=self.timestamp,
                                   deleted_by=self.actor_email or self.actor_subject)

    def text(self) -> str:
        return "Deleted" if self.reason is None else f"Deleted ({self.reason})"


class Restored(CredentialEvent):
    """A soft-deleted credential was brought back."""

    def change(self, state: CredentialState) -> CredentialState:
        return dataclasses.replace(state, deleted=False, deleted_at=None, deleted_by=None)

    def text(self) -> str:
        return "Restored"


class Erased(CredentialEvent):
    """The credential's data and everything else was destroyed for good; carries nothing."""

    erased_versions: int
    shredded: ClassVar[bool] = False

    def change(self, state: CredentialState) -> CredentialState:
        return CredentialState(id=state.id, tenant=self.tenant, erased=True)

    def stamp(self, state: CredentialState) -> CredentialState:
        stamped: CredentialState = super().stamp(state)
        return dataclasses.replace(stamped, erased_through=self.revision)

    def text(self) -> str:
        return "Erased"


def _with_data(state: CredentialState, data: dict[str, Any], at: datetime) -> CredentialState:
    # The data passed its type's schema: nothing is wrong with it ("errors": []) until a
    # connection test says otherwise (``Validated``).
    return dataclasses.replace(state, data_fields=tuple(sorted(data)), data_set=True,
                               rotated_at=at, errors=())


def expiry_text(moment: datetime | None) -> str | None:
    """How an expiry is recorded in events: RFC 3339 in UTC, or ``None``."""
    return iso_timestamp(moment)
