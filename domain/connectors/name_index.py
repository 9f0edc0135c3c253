"""The tenant-wide uniqueness of connector names, decided from aggregates, not read models.

Each normalised name of a tenant is one small ``ConnectorName`` aggregate whose id follows
from tenant and name (``connector_name_uuid``). It records which connector holds the name.
A create or rename saves the connector and the claim together; the event store's optimistic
concurrency then refuses the second of two racing claims, which a read model cannot do.

Its events carry no name (only the id derived from it) and are not shredded: an erased
connector's release must stay readable, and there is nothing in it to erase.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.connectors.errors import ConnectorNameTakenError
from domain.connectors.ids import connector_name_uuid, encode_connector_id


class ConnectorName(Aggregate):
    """Which connector, if any, holds one normalised name of one tenant."""

    def __init__(self) -> None:
        self.tenant = ""
        self.holder: UUID | None = None

    class Event(Aggregate.Event):
        """Base of the index events: the tenant and the connector concerned."""

        tenant: str
        connector_id: UUID

        shredded: ClassVar[bool] = False

        def apply(self, aggregate: Any) -> None:
            aggregate.tenant = self.tenant
            aggregate.holder = self.holder_after()

        def holder_after(self) -> UUID | None:
            """Who holds the name after this event."""
            return self.connector_id

    class Claimed(Event, Aggregate.Created):
        """The name was taken for the first time."""

    class Reclaimed(Event):
        """A released name was taken again."""

    class Released(Event):
        """The name became free (its connector was renamed or erased)."""

        def holder_after(self) -> UUID | None:
            return None

    @classmethod
    def claim_new(cls, tenant: str, name: str, connector_id: UUID) -> ConnectorName:
        """The index entry of a name never claimed before, held by ``connector_id``."""
        return cls._create(cls.Claimed, id=connector_name_uuid(tenant, name), tenant=tenant,
                           connector_id=connector_id)

    def claim(self, connector_id: UUID) -> bool:
        """Take the name; False if ``connector_id`` holds it already, an error if another does."""
        if self.holder == connector_id:
            return False
        if self.holder is not None:
            raise ConnectorNameTakenError(encode_connector_id(self.holder))
        self.trigger_event(self.Reclaimed, tenant=self.tenant, connector_id=connector_id)
        return True

    def release(self, connector_id: UUID) -> bool:
        """Free the name if ``connector_id`` holds it; False (nothing recorded) otherwise."""
        if self.holder != connector_id:
            return False
        self.trigger_event(self.Released, tenant=self.tenant, connector_id=connector_id)
        return True


def claim_name(entry: ConnectorName | None, tenant: str, name: str,
               connector_id: UUID) -> ConnectorName:
    """Claim ``name`` for a connector, given the entry the repository found (or ``None``).

    Returns the entry to save with the connector; raises ConnectorNameTakenError when
    another connector (deleted ones included) holds the name.
    """
    if entry is None:
        return ConnectorName.claim_new(tenant, name, connector_id)
    entry.claim(connector_id)
    return entry
