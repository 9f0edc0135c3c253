"""The Credential aggregate: every accepted command is one revision of past-tense events.

It follows the Connector aggregate: the caller gives the id, each command checks the state,
plans events and triggers them with one shared revision and timestamp, and each event evolves
a frozen :class:`CredentialState` that the read models share. The data is only ever in the
(shredded) events; an erase destroys the credential's data key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.common import Actor, Redacted, record_revision, revision_meta
from domain.connectors.ids import encode_connector_id
from domain.connectors.merge_patch import apply_merge_patch
from domain.credentials import events as ev
from domain.credentials.document import CredentialInput, parse_credential, without_read_only
from domain.credentials.errors import (
    CredentialDeletedError,
    CredentialErasedError,
    CredentialInUseError,
    CredentialNotDeletedError,
    CredentialNotFoundError,
    CredentialOwnedError,
    CredentialValidationError,
)
from domain.credentials.state import CredentialState
from domain.credentials.usages import CredentialUsages
from domain.errors import Violation

Change = tuple[type[ev.CredentialEvent], dict[str, Any]]

OWNED_TYPES: dict[str, str] = {
    "none": "none", "apiKey": "string", "bearer": "string", "basic": "basic-auth",
    "password": "basic-auth", "accessKey": "basic-auth", "oauth2": "oauth2-token",
}
"""The credential type of a connector's credentials, by their auth type (the catalogue's)."""


class Credential(CredentialUsages, Aggregate):
    """A credential of one type, tenant-wide: any editor of the tenant may change it."""

    def __init__(self) -> None:
        self.state = CredentialState(id=self.id)

    @classmethod
    def create(cls, actor: Actor, credential_id: UUID, document: Any) -> Credential:
        """Create a credential from a document; ``data`` is required."""
        parsed = parse_credential(document, data_required=True)
        return cls._create(ev.Created, id=credential_id, **revision_meta(actor, 1),
                           name=parsed.name, type=parsed.type, expires_at=parsed.expires_at,
                           data=parsed.data, connector_id=None)

    @classmethod
    def create_owned(cls, actor: Actor, credential_id: UUID, connector_id: UUID, name: str,
                     auth_type: str, data: Mapping[str, Any]) -> Credential:
        """The credential holding a connector's inline credentials. ``data`` already passed
        the connector type's ``credentialsSchema`` (it is kept in that shape); the type is
        the kind of secret its auth type is (:data:`OWNED_TYPES`)."""
        return cls._create(ev.Created, id=credential_id, **revision_meta(actor, 1),
                           name=name, type=OWNED_TYPES[auth_type], expires_at=None,
                           data=dict(data), connector_id=connector_id)

    def rotate_owned(self, actor: Actor, data: Mapping[str, Any]) -> None:
        """New data for a connector's credentials (checked by the connector): always one
        revision, ``Changed credential data``."""
        self.live_state()
        self._record(actor, [(ev.DataReplaced, {"data": dict(data)})])

    def replace(self, actor: Actor, document: Any) -> bool:
        """PUT: make the credential equal ``document``; ``data`` left out keeps the current
        data (a client cannot send it back). The type is fixed. False when nothing changed."""
        state = self.unowned_state()
        if isinstance(document, Mapping):
            document = without_read_only(document)
        parsed = parse_credential(document, data_required=False)
        if parsed.type != state.type:
            raise CredentialValidationError([Violation("/type", "the type cannot change")])
        return self._record(actor, plan_changes(state.editable(), parsed))

    def patch(self, actor: Actor, merge_patch: Any) -> bool:
        """PATCH: an RFC 7396 merge patch of the current document, then as PUT; ``data`` in a
        patch replaces the data whole (a rotation), and cannot be removed."""
        state = self.unowned_state()
        if not isinstance(merge_patch, Mapping):
            raise CredentialValidationError([Violation("", "a merge patch must be an object")])
        if "data" in merge_patch and merge_patch["data"] is None:
            raise CredentialValidationError(
                [Violation("/data", "cannot be removed; replace it instead")])
        patch = without_read_only({k: v for k, v in merge_patch.items() if k != "data"})
        document = apply_merge_patch(
            {k: v for k, v in state.editable().items() if v is not None}, patch)
        if "data" in merge_patch:
            document["data"] = merge_patch["data"]
        return self.replace(actor, document)

    def record_check(self, actor: Actor, errors: list[str]) -> None:
        """Record what a connection test with this credential found (``Validated``)."""
        self.visible_state()
        self._record(actor, [(ev.Validated, {"errors": list(errors)})])

    def delete(self, actor: Actor, reason: str | None = None) -> None:
        """Soft-delete: hidden, restorable, history kept (``reason`` ``expired`` by expiry).

        409 while connections use it, except on expiry: an expired credential goes anyway,
        and whoever relies on it learns so from the ``expired`` delete (seed 003).
        """
        state = self.unowned_state()
        if reason != ev.EXPIRED:
            _refuse_in_use(state)
        self._record(actor, [(ev.Deleted, {"reason": reason})])

    def restore(self, actor: Actor) -> None:
        """Bring back a soft-deleted credential."""
        state = self.unowned_state(deleted_ok=True)
        if not state.deleted:
            raise CredentialNotDeletedError(f"credential {state.credential_id} is not deleted")
        self._record(actor, [(ev.Restored, {})])

    def erase(self, actor: Actor, *, by_owner: bool = False) -> None:
        """Destroy the data and everything else for good (deleted or not); the caller
        destroys the data key in the same save. A connector's credential is erased only with
        its connector (``by_owner``); one connections use, not at all."""
        state = self.live_state() if by_owner else self.unowned_state(deleted_ok=True)
        if not by_owner:
            _refuse_in_use(state)
        erased_versions = state.revision - state.erased_through
        self._record(actor, [(ev.Erased, {"erased_versions": erased_versions})])

    def live_state(self) -> CredentialState:
        """The state, or the error of a credential that is erased or never was."""
        if self.state.erased:
            raise CredentialErasedError(f"credential {self.state.credential_id} was erased")
        if not self.state.exists:
            raise CredentialNotFoundError(
                f"credential {self.state.credential_id} does not exist")
        return self.state

    def visible_state(self) -> CredentialState:
        """The state of a credential that is neither erased nor soft-deleted."""
        state = self.live_state()
        if state.deleted:
            raise CredentialDeletedError(f"credential {state.credential_id} is deleted")
        return state

    def unowned_state(self, *, deleted_ok: bool = False) -> CredentialState:
        """The state of a credential a caller may change directly: not a connector's."""
        state = self.live_state() if deleted_ok else self.visible_state()
        if state.connector_id is not None:
            raise CredentialOwnedError(state.credential_id,
                                       encode_connector_id(state.connector_id))
        return state

    def _record(self, actor: Actor, changes: list[Change]) -> bool:
        return record_revision(self, actor, changes)


def _refuse_in_use(state: CredentialState) -> None:
    if state.usages:
        raise CredentialInUseError([
            f"connection {u['connectionName']} of connector "
            f"{encode_connector_id(UUID(u['connectorId']))}" for u in state.usages])


def plan_changes(old: Mapping[str, Any], new: CredentialInput) -> list[Change]:
    """The events from the current document to ``new``, in the order history shows them."""
    changes: list[Change] = []
    if old["name"] != new.name:
        changes.append((ev.Renamed, {"old": old["name"], "new": new.name}))
    if old["expiresAt"] != new.expires_at:
        changes.append((ev.ExpiryChanged, {"old": old["expiresAt"], "new": new.expires_at}))
    if new.data is not None:
        changes.append((ev.DataReplaced, {"data": new.data}))
    return changes


class CredentialRedacted(Redacted):
    """Stands in for a credential event whose data key was destroyed by an erase."""


CredentialRedacted.restores = (Credential, CredentialState)
ev.CredentialEvent.redacted_class = CredentialRedacted


