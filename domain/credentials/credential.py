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
from domain.connectors.merge_patch import apply_merge_patch
from domain.credentials import events as ev
from domain.credentials.document import CredentialInput, parse_credential, without_read_only
from domain.credentials.errors import (
    CredentialDeletedError,
    CredentialErasedError,
    CredentialNotDeletedError,
    CredentialNotFoundError,
    CredentialValidationError,
)
from domain.credentials.state import CredentialState
from domain.errors import Violation

Change = tuple[type[ev.CredentialEvent], dict[str, Any]]


class Credential(Aggregate):
    """A credential of one type, tenant-wide: any editor of the tenant may change it."""

    def __init__(self) -> None:
        self.state = CredentialState(id=self.id)

    @classmethod
    def create(cls, actor: Actor, credential_id: UUID, document: Any) -> Credential:
        """Create a credential from a document; ``data`` is required."""
        parsed = parse_credential(document, data_required=True)
        return cls._create(ev.Created, id=credential_id, **revision_meta(actor, 1),
                           name=parsed.name, type=parsed.type, expires_at=parsed.expires_at,
                           data=parsed.data)

    def replace(self, actor: Actor, document: Any) -> bool:
        """PUT: make the credential equal ``document``; ``data`` left out keeps the current
        data (a client cannot send it back). The type is fixed. False when nothing changed."""
        state = self.visible_state()
        if isinstance(document, Mapping):
            document = without_read_only(document)
        parsed = parse_credential(document, data_required=False)
        if parsed.type != state.type:
            raise CredentialValidationError([Violation("/type", "the type cannot change")])
        return self._record(actor, plan_changes(state.editable(), parsed))

    def patch(self, actor: Actor, merge_patch: Any) -> bool:
        """PATCH: an RFC 7396 merge patch of the current document, then as PUT; ``data`` in a
        patch replaces the data whole (a rotation), and cannot be removed."""
        state = self.visible_state()
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
        """Soft-delete: hidden, restorable, history kept (``reason`` ``expired`` by expiry)."""
        self.visible_state()
        self._record(actor, [(ev.Deleted, {"reason": reason})])

    def restore(self, actor: Actor) -> None:
        """Bring back a soft-deleted credential."""
        state = self.live_state()
        if not state.deleted:
            raise CredentialNotDeletedError(f"credential {state.credential_id} is not deleted")
        self._record(actor, [(ev.Restored, {})])

    def erase(self, actor: Actor) -> None:
        """Destroy the data and everything else for good (deleted or not); the caller
        destroys the data key in the same save."""
        state = self.live_state()
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

    def _record(self, actor: Actor, changes: list[Change]) -> bool:
        return record_revision(self, actor, changes)


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


