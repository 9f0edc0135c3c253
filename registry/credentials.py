"""Credential commands of the application: one method per command, every rule decided by
the Credential aggregate in one save.

Credentials are tenant-wide: whoever the route lets in (editors; admins for erase) may
change any credential of the tenant. An erase destroys the credential's data key in the
save that records it, so its data is unreadable from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from ulid import ULID

from domain.common import Actor
from domain.credentials import events as cev
from domain.credentials.credential import Credential
from domain.credentials.errors import CREDENTIAL_NOT_FOUND, CredentialNotFoundError
from domain.credentials.events import EXPIRED
from domain.credentials.state import CredentialState
from domain.errors import RegistryError, StaleVersionError
from projections.credentials import CredentialQueries
from registry.persistence import DESTROY_KEYS

if TYPE_CHECKING:
    from registry.connectors import Access

log = logging.getLogger("registry")
EXPIRY_ACTOR = "registry:expiry"
"""The subject history shows for a delete made by the expiry of a credential."""


class CredentialCommands:
    """Credential commands; mixed into the application, whose repository and save they use."""

    if TYPE_CHECKING:  # provided by the application this is mixed into
        repository: Any
        events: Any
        credentials: CredentialQueries

        def _save(self, *aggregates: Any, **kwargs: Any) -> None: ...

        def _reclaim(self) -> None: ...

    def create_credential(self, access: Access, document: Any) -> CredentialState:
        """Create a credential (``crd_`` + ULID id) with its data."""
        credential = Credential.create(access.actor, ULID().to_uuid(), document)
        self._save(credential)
        return credential.state

    def update_credential(
        self, access: Access, uuid: UUID, document: Any, if_match: Collection[int] | None,
        *, patch: bool,
    ) -> tuple[CredentialState, bool]:
        """PUT (full replacement) or PATCH (merge patch); ``data`` sent rotates the data."""
        credential = self.credential(access, uuid)
        credential.visible_state()
        _check_version(credential.state, if_match)
        changed = (credential.patch(access.actor, document) if patch
                   else credential.replace(access.actor, document))
        if changed:
            self._save(credential)
        return credential.state, changed

    def delete_credential(self, access: Access, uuid: UUID) -> CredentialState:
        """Soft-delete."""
        credential = self.credential(access, uuid)
        credential.delete(access.actor)
        self._save(credential)
        return credential.state

    def restore_credential(self, access: Access, uuid: UUID) -> CredentialState:
        """Bring back a soft-deleted credential."""
        credential = self.credential(access, uuid)
        credential.restore(access.actor)
        self._save(credential)
        return credential.state

    def erase_credential(self, access: Access, uuid: UUID) -> CredentialState:
        """Destroy the credential's data for good, with its data key, in one save."""
        credential = self.credential(access, uuid)
        credential.erase(access.actor)
        self._save(credential, **{DESTROY_KEYS: [credential.id]})
        self._reclaim()
        return credential.state

    def record_credential_check(self, actor: Actor, credential_uuid: UUID,
                                errors: list[str]) -> CredentialState:
        """Record what a connection test with the credential found: ``errors`` ``[]`` when
        it worked, else what the system said (``Validated``)."""
        from registry.connectors import Access  # registry.connectors imports this module

        credential = self.credential(Access(actor), credential_uuid)
        credential.record_check(actor, errors)
        self._save(credential)
        return credential.state

    def expire_credentials(self, now: datetime) -> list[UUID]:
        """Soft-delete every live credential whose ``expiresAt`` is not after ``now``
        (``Deleted (expired)``); answers the ones deleted. One that changed meanwhile (its
        expiry moved, a racing write won) is left for the next run."""
        expired = []
        for uuid in self.credentials.expiring(now):
            credential = self.repository.get(uuid)
            state = credential.state
            if not isinstance(credential, Credential) or state.deleted or not state.exists:
                continue
            if state.expires_at is None or state.expires_at > now:
                continue
            actor = Actor(EXPIRY_ACTOR, state.tenant)
            try:
                credential.delete(actor, reason=EXPIRED)
                self._save(credential, *self._told_of_expiry(actor, state))
            except RegistryError:  # a racing write won, or it changed meanwhile
                continue
            expired.append(uuid)
        if expired:
            log.info("expired %d credential(s)", len(expired))
        return expired

    def _told_of_expiry(self, actor: Actor, state: CredentialState) -> list[Any]:
        """The connectors whose connections use an expiring credential, each with the
        expiry recorded in its history (saved with the credential's delete)."""
        told = []
        for connector_id in sorted({str(u["connectorId"]) for u in state.usages}):
            try:
                connector = self.repository.get(UUID(connector_id))
            except AggregateNotFoundError:
                continue
            if connector.note_credential_expired(actor, state.credential_id):
                told.append(connector)
        return told

    def credential_data(self, uuid: UUID) -> dict[str, Any] | None:
        """The current data of a live credential, decrypted from its events (the only place
        it is); ``None`` when it is erased, deleted or unknown. For reaching a system only:
        never shown or logged."""
        data: dict[str, Any] | None = None
        deleted = False
        for event in self.events.get(uuid):
            if isinstance(event, cev.Created | cev.DataReplaced):
                data = event.data
            elif isinstance(event, cev.Deleted | cev.Restored):
                deleted = isinstance(event, cev.Deleted)
            elif isinstance(event, cev.Erased):
                data = None
        return None if data is None or deleted else dict(data)

    def credential(self, access: Access, uuid: UUID) -> Credential:
        """A credential of the caller's tenant; 404 for unknown and other tenants' ids.

        Another tenant's id costs what an unknown id costs: one indexed lookup, no load.
        """
        if self.credentials.tenant_of(uuid) not in (None, access.actor.tenant):
            raise CredentialNotFoundError(CREDENTIAL_NOT_FOUND)
        try:
            credential = self.repository.get(uuid)
        except AggregateNotFoundError:
            raise CredentialNotFoundError(CREDENTIAL_NOT_FOUND) from None
        if (not isinstance(credential, Credential)
                or credential.state.tenant != access.actor.tenant):
            raise CredentialNotFoundError(CREDENTIAL_NOT_FOUND)
        return credential


def _check_version(state: CredentialState, if_match: Collection[int] | None) -> None:
    if if_match is not None and state.revision not in if_match:
        raise StaleVersionError(state.revision)
