"""The Connector aggregate: every accepted command is one revision of past-tense events.

It mirrors the Schema aggregate (``domain.schema``): the caller gives the id, each command
checks the state, plans events and triggers them with one shared revision and timestamp, and
each event evolves a frozen :class:`ConnectorState` that read models share.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.domain import Snapshot as AggregateSnapshot

from domain.common import Actor, Redacted, iso_timestamp, record_revision, revision_meta
from domain.connectors import events as ev
from domain.connectors.catalogue import auth_type_of, get_type, validate_credentials
from domain.connectors.connections import ConnectorConnections, plan_connection_fields
from domain.connectors.document import parse_connector, without_read_only
from domain.connectors.errors import (
    ConnectorDeletedError,
    ConnectorErasedError,
    ConnectorHasSchemasError,
    ConnectorNotDeletedError,
    ConnectorNotFoundError,
    ConnectorNotLiveError,
    ConnectorRefreshBusyError,
    ConnectorValidationError,
)
from domain.connectors.merge_patch import apply_merge_patch
from domain.connectors.planning import Change, plan_changes
from domain.connectors.state import ConnectorState
from domain.errors import Violation
from domain.ids import encode_schema_id


class Connector(ConnectorConnections, Aggregate):
    """A connector instance of one catalogue type, owned by a user of one tenant.

    Its stream grows with every schema it holds (attached, deleted, restored, erased), so the
    application snapshots it: a snapshot is encrypted with the connector's data key like its
    events, and an erase shreds both.
    """

    class Snapshot(AggregateSnapshot):
        """The connector's state at a version; content, hence shredded like the events."""

        shredded: ClassVar[bool] = True

    def __init__(self) -> None:
        self.state = ConnectorState(id=self.id)

    @classmethod
    def create(cls, actor: Actor, connector_id: UUID, document: Mapping[str, Any]) -> Connector:
        """Create a connector from a document; the owner defaults to the actor."""
        parsed = parse_connector(document)
        if parsed.fields.get("authSchemeConfigIds"):
            raise ConnectorValidationError([Violation(
                "/authSchemeConfigIds", "a new connector has no auth scheme configs to order")])
        fields = {**parsed.fields, "ownerId": parsed.fields["ownerId"] or actor.subject}
        entry = get_type(fields["type"])
        assert entry is not None  # parse_connector accepts catalogue types only
        return cls._create(
            ev.Created, id=connector_id, **revision_meta(actor, 1), fields=fields,
            credential_fields=(None if parsed.credentials is None
                               else ev.credential_field_names(parsed.credentials)),
            token_expires_at=(None if parsed.credentials is None
                              else ev.token_expiry(parsed.credentials)),
            auth_type=parsed.auth_type or entry.default_auth_type,
        )

    def replace(self, actor: Actor, document: Mapping[str, Any]) -> bool:
        """PUT: make the connector equal ``document``; fields left out return to unset.

        Two fields are kept when left out, because a client cannot send them back: the
        owner (there is always one) and the credentials (never shown). The type is fixed.
        Returns False, recording nothing, when nothing changed.
        """
        state = self.visible_state()
        parsed = parse_connector(document)
        if parsed.fields["type"] != state.type:
            raise ConnectorValidationError([Violation("/type", "the type cannot change")])
        new = {**parsed.fields, "ownerId": parsed.fields["ownerId"] or state.owner_id}
        changes = plan_changes(state.editable(), new)
        changes += plan_connection_fields(state, parsed.fields)
        if parsed.credentials is not None:
            changes.append((ev.CredentialsReplaced, {
                "credential_fields": ev.credential_field_names(parsed.credentials),
                "auth_type": parsed.auth_type,
                "token_expires_at": ev.token_expiry(parsed.credentials)}))
        return self._record(actor, changes)

    def patch(self, actor: Actor, merge_patch: Any) -> bool:
        """PATCH: apply an RFC 7396 merge patch to the current document, then as PUT.

        ``credentials`` in a patch replace the credentials whole: their current values are
        not known here to merge into, and removing them (``null``) is refused.
        """
        state = self.visible_state()
        if not isinstance(merge_patch, Mapping):
            raise ConnectorValidationError([Violation("", "a merge patch must be an object")])
        if "credentials" in merge_patch and merge_patch["credentials"] is None:
            raise ConnectorValidationError(
                [Violation("/credentials", "cannot be removed; replace them instead")])
        patch = without_read_only({k: v for k, v in merge_patch.items() if k != "credentials"})
        document = apply_merge_patch(state.editable(), patch)
        if "credentials" in merge_patch:
            document["credentials"] = merge_patch["credentials"]
        return self.replace(actor, document)

    def replace_credentials(self, actor: Actor, credentials: Any) -> None:
        """Store new credentials (a rotation): always one revision, never a shown value.

        ``credentials`` is the whole document checked, so violations point into it (``/token``).
        """
        state = self.visible_state()
        assert state.type is not None
        violations = validate_credentials(state.type, credentials, base="")
        if violations:
            raise ConnectorValidationError(violations)
        entry = get_type(state.type)
        assert entry is not None
        auth_type = auth_type_of(entry, credentials)
        self._record(actor, [(ev.CredentialsReplaced, {
            "credential_fields": ev.credential_field_names(credentials),
            "auth_type": auth_type, "token_expires_at": ev.token_expiry(credentials)})])

    def record_test(self, actor: Actor, ok: bool, status: int, message: str | None,
                    latency_ms: int | None) -> None:
        """Record the outcome of a connection test (``Tested connection: ...``)."""
        self.visible_state()
        self._record(actor, [(ev.ConnectionTested, {"ok": ok, "status": status,
                                                     "message": message,
                                                     "latency_ms": latency_ms})])

    def start_oauth_refresh(self, actor: Actor, now: datetime, lease: timedelta) -> None:
        """Take the refresh of the OAuth tokens for ``lease``; refused while another
        refresh holds it."""
        state = self.visible_state()
        if state.oauth_refresh_until is not None and now < state.oauth_refresh_until:
            raise ConnectorRefreshBusyError(
                f"the OAuth tokens of connector {state.connector_id} are being refreshed")
        self._record(actor, [(ev.OAuthRefreshStarted, {"until": iso_timestamp(now + lease)})])

    def record_oauth_refresh_failure(self, actor: Actor, error: str) -> None:
        """The OAuth tokens could not be refreshed: ``oauthRefreshNeeded`` turns true."""
        self.visible_state()
        self._record(actor, [(ev.OAuthRefreshFailed, {"error": error})])

    def attach_schema(self, actor: Actor, schema_id: UUID) -> None:
        """A new schema (or one created again after its erase) joins the live connector."""
        state = self.visible_state()
        if schema_id in state.live_schemas:
            raise ConnectorValidationError(
                [Violation("/connectorId", "the connector already holds this schema")])
        self._record(actor, [(ev.SchemaAttached, {"schema_id": schema_id})])

    def delete_schema(self, actor: Actor, schema_id: UUID) -> None:
        """One of its live schemas is soft-deleted."""
        state = self.visible_state()
        if schema_id in state.live_schemas:
            self._record(actor, [(ev.SchemaDeleted, {"schema_id": schema_id})])

    def restore_schema(self, actor: Actor, schema_id: UUID) -> None:
        """One of its deleted schemas comes back: only under a connector that is not deleted."""
        state = self.live_state()
        if state.deleted:
            raise ConnectorNotLiveError(
                f"connector {state.connector_id} is deleted; restore the connector first")
        if schema_id in state.deleted_schemas:
            self._record(actor, [(ev.SchemaRestored, {"schema_id": schema_id})])

    def detach_schema(self, actor: Actor, schema_id: UUID) -> None:
        """A schema it holds was erased; works on a deleted connector too."""
        state = self.live_state()
        if schema_id in state.schemas:
            self._record(actor, [(ev.SchemaDetached, {"schema_id": schema_id})])

    def delete(self, actor: Actor, cascade: bool = False) -> tuple[UUID, ...]:
        """Soft-delete; refuses while live schemas remain, unless ``cascade``.

        Returns the live schemas the caller must soft-delete in the same save (cascade only).
        """
        state = self.visible_state()
        live = state.live_schemas
        if live and not cascade:
            raise ConnectorHasSchemasError([encode_schema_id(s) for s in live])
        self._record(actor, [(ev.Deleted, {"cascade": cascade})])
        return live

    def restore(self, actor: Actor) -> None:
        """Bring back a soft-deleted connector (its schemas are restored one by one)."""
        state = self.live_state()
        if not state.deleted:
            raise ConnectorNotDeletedError(f"connector {state.connector_id} is not deleted")
        self._record(actor, [(ev.Restored, {})])

    def erase(self, actor: Actor) -> tuple[UUID, ...]:
        """Destroy config, credentials and everything else for good (deleted or not).

        Returns every schema it held: the caller erases them in the same transaction and
        releases the connector's name.
        """
        state = self.live_state()
        erased_versions = state.revision - state.erased_through
        self._record(actor, [(ev.Erased, {"erased_versions": erased_versions})])
        return state.schemas

    def live_state(self) -> ConnectorState:
        """The state, or the error of a connector that is erased or never was."""
        if self.state.erased:
            raise ConnectorErasedError(f"connector {self.state.connector_id} was erased")
        if not self.state.exists:
            raise ConnectorNotFoundError(f"connector {self.state.connector_id} does not exist")
        return self.state

    def visible_state(self) -> ConnectorState:
        """The state of a connector that is neither erased nor soft-deleted."""
        state = self.live_state()
        if state.deleted:
            raise ConnectorDeletedError(f"connector {state.connector_id} is deleted")
        return state

    def _record(self, actor: Actor, changes: list[Change]) -> bool:
        return record_revision(self, actor, changes)


class ConnectorRedacted(Redacted):
    """Stands in for a connector event whose data key was destroyed by an erase."""


ConnectorRedacted.restores = (Connector, ConnectorState)
ev.ConnectorEvent.redacted_class = ConnectorRedacted
Connector.Snapshot.redacted_class = ConnectorRedacted  # type: ignore[attr-defined]


