"""Connector commands of the application: one method per command, every rule decided by
aggregates in one atomic save.

A connector's name is claimed in its ``ConnectorName`` index entry in the same save as the
connector, so two racing creates of one name cannot both succeed. Deleting a connector with
``cascade`` soft-deletes its live schemas in the same save; erasing it erases its schemas and
releases its name in the same save, with every data key destroyed in that transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from ulid import ULID

from domain.common import Actor
from domain.connectors.access import can_change, can_see
from domain.connectors.connector import Connector
from domain.connectors.errors import (
    ConnectorForbiddenError,
    ConnectorNameTakenError,
    ConnectorNotFoundError,
)
from domain.connectors.ids import connector_name_uuid, encode_connector_id
from domain.connectors.name_index import ConnectorName, claim_name
from domain.connectors.state import ConnectorState
from domain.credentials.credential import Credential
from domain.errors import ConcurrentWriteError, StaleVersionError
from domain.oauth.errors import OAUTH_KEY_EXPIRED, OAuthKeyExpiredError
from domain.schema import Schema
from domain.scripts.versions import script_versions_uuid
from registry.connection.tester import ConnectionTester, TestResult, saved_credentials
from registry.persistence import DESTROY_KEYS

if TYPE_CHECKING:
    from domain.oauth.grant import OAuthGrant
    from domain.sync.job import SyncQueue

T = TypeVar("T")
log = logging.getLogger("registry")
NOT_FOUND = "connector not found"
"""The one message of every unknown or invisible connector id."""


@dataclass(frozen=True)
class Access:
    """Who asks, as the connector access rules need it: the actor, its roles and groups."""

    actor: Actor
    roles: Collection[str] = ()
    groups: Collection[str] = ()


class ConnectorCommands:
    """Connector commands; mixed into the application, whose repository and save they use."""

    if TYPE_CHECKING:  # provided by the application this is mixed into
        repository: Any

        def credential_data(self, uuid: UUID) -> dict[str, Any] | None: ...

        def _sync_queue(self, connector_id: UUID) -> SyncQueue | None: ...

        def _save(self, *aggregates: Any, **kwargs: Any) -> None: ...

        def _load(self, uuid: UUID) -> Schema: ...

        def _reclaim(self) -> None: ...

        def _retrying(self, attempt: Callable[[], T]) -> T: ...

        def release_connections(self, access: Access, connector: Connector) -> list[Any]: ...

        def _oauth_document(
            self, access: Access, document: Any, oauth_key: str | None, type_name: Any,
            connector: UUID, now: datetime | None, check: Callable[[Any], object],
        ) -> tuple[list[OAuthGrant], Any]: ...

        def _grant_claimed(self, grants: list[OAuthGrant]) -> bool: ...

        def fresh_connector_credentials(
            self, access: Access, uuid: UUID, now: datetime,
        ) -> tuple[ConnectorState, dict[str, Any] | None]: ...

    def create_connector(self, access: Access, document: Any, *, oauth_key: str | None = None,
                         now: datetime | None = None) -> ConnectorState:
        """Create a connector (``cnn_`` + ULID id); 409 when its name is taken in the tenant.

        Credentials in the document become the credential the connector owns, saved with it;
        with ``oauth_key``, they are the tokens of that OAuth grant, claimed in the same save
        (408 when the key cannot be used)."""
        actor = access.actor
        uuid = ULID().to_uuid()
        type_name = document.get("type") if isinstance(document, Mapping) else None
        grants, document = self._oauth_document(
            access, document, oauth_key, type_name, uuid, now,
            check=lambda plain: Connector.create(actor, uuid, plain))
        connector = Connector.create(actor, uuid, document)
        name = connector.state.name or ""
        entry = claim_name(self._name_entry(actor.tenant, name), actor.tenant, name,
                           connector.id)
        try:
            self._save(connector, entry, *self._owned(actor, connector, document), *grants,
                       **_destroying(grants))
        except ConcurrentWriteError:
            if self._grant_claimed(grants):
                raise OAuthKeyExpiredError(OAUTH_KEY_EXPIRED) from None
            raise ConnectorNameTakenError(self._holder(actor.tenant, name)) from None
        if grants:
            self._reclaim()
        return connector.state

    def update_connector(
        self, access: Access, uuid: UUID, document: Any, if_match: Collection[int] | None,
        *, patch: bool, oauth_key: str | None = None, now: datetime | None = None,
    ) -> tuple[ConnectorState, bool]:
        """PUT (full replacement) or PATCH (merge patch); the name index follows a rename.
        With ``oauth_key``, the new credentials are that OAuth grant's tokens (as on create)."""
        connector = self._changeable(access, uuid)
        _check_version(connector.state, if_match)
        grants, document = self._oauth_document(
            access, document, oauth_key, connector.state.type, uuid, now,
            check=lambda plain: _updated(self.connector(access, uuid), access, plain, patch))
        before = connector.state.name or ""
        changed = _updated(connector, access, document, patch)
        if changed:
            self._save(connector, *self._rename(access.actor.tenant, connector, before),
                       *self._owned(access.actor, connector, document), *grants,
                       **_destroying(grants))
        if grants:
            self._reclaim()
        return connector.state, changed

    def rotate_connector_credentials(
        self, access: Access, uuid: UUID, credentials: Any,
        if_match: Collection[int] | None = None,
    ) -> ConnectorState:
        """Replace a connector's credentials (``Changed credentials``); ``if_match`` is checked
        before the credentials are."""
        connector = self._changeable(access, uuid)
        _check_version(connector.state, if_match)
        connector.replace_credentials(access.actor, credentials)
        self._save(connector, *self._owned(access.actor, connector,
                                           {"credentials": credentials}))
        return connector.state

    def delete_connector(self, access: Access, uuid: UUID, *, cascade: bool) -> ConnectorState:
        """Soft-delete; 409 while it holds live schemas, unless ``cascade`` deletes them too."""

        def attempt() -> ConnectorState:
            connector = self._changeable(access, uuid)
            schemas = [self._load(s) for s in connector.delete(access.actor, cascade=cascade)]
            for schema in schemas:
                schema.delete(access.actor)
            self._save(connector, *schemas)
            return connector.state

        return self._retrying(attempt)

    def restore_connector(self, access: Access, uuid: UUID) -> ConnectorState:
        """Bring back a soft-deleted connector (its schemas are restored one by one)."""
        connector = self._changeable(access, uuid, deleted_ok=True)
        connector.restore(access.actor)
        self._save(connector)
        return connector.state

    def erase_connector(self, access: Access, uuid: UUID) -> ConnectorState:
        """Erase the connector, its credentials and config, and all its schemas, for good;
        the credentials its connections used are released in the same save."""

        def attempt() -> ConnectorState:
            connector = self._changeable(access, uuid, deleted_ok=True)
            name = connector.state.name or ""
            owned = self._owned_credential(connector.state)
            released = self.release_connections(access, connector)
            erased: list[Aggregate] = []
            for schema_id in connector.erase(access.actor):
                schema = self._load(schema_id)
                if schema.state.exists:
                    schema.erase(access.actor)
                    erased.append(schema)
            entry = self._name_entry(access.actor.tenant, name)
            names = [entry] if entry is not None and entry.release(connector.id) else []
            if owned is not None:
                owned.erase(access.actor, by_owner=True)
            credentials = [owned] if owned is not None else []
            syncs = self._stop_syncs(access.actor, connector.id)
            jobs = list(syncs[-1].jobs) if syncs else []
            keys = [connector.id, *(s.id for s in erased), *(c.id for c in credentials),
                    script_versions_uuid(connector.id), *jobs]
            self._save(connector, *erased, *names, *released, *credentials, *syncs,
                       **{DESTROY_KEYS: keys})
            return connector.state

        state = self._retrying(attempt)
        self._reclaim()
        return state

    def test_connector(
        self, access: Access, uuid: UUID, tester: ConnectionTester,
    ) -> tuple[ConnectorState, TestResult]:
        """Test a saved connector's connection and record the outcome on it (``Tested
        connection: ...``) and on the credential its credentials live in (``Validated``).

        Only a caller who may change the connector may test it: a test sends its credentials
        out. The check runs outside any transaction; its outcome is saved after it.
        """
        self._changeable(access, uuid)
        # OAuth tokens about to expire are refreshed first ("handled automatically").
        state, values = self.fresh_connector_credentials(access, uuid, datetime.now(UTC))
        assert state.type is not None
        saved_credentials(state.type, values)
        result = tester.test(state.type, state.config, values)

        def attempt() -> ConnectorState:
            connector = self._changeable(access, uuid)
            connector.record_test(access.actor, result.ok, result.status, result.message,
                                  result.latency_ms)
            # The credential holding the connector's credentials takes the outcome in the
            # same save: its ``errors`` say whether they worked.
            owned = self._owned_credential(connector.state)
            checked = []
            if owned is not None and owned.state.exists and not owned.state.deleted:
                errors = [] if result.ok else [result.message or f"failed ({result.status})"]
                owned.record_check(access.actor, errors)
                checked.append(owned)
            self._save(connector, *checked)
            return connector.state

        saved = self._retrying(attempt)
        return saved, result

    def connector_credentials(
        self, access: Access, uuid: UUID,
    ) -> tuple[ConnectorState, dict[str, Any] | None]:
        """A live connector the caller may see, and the values of its current credentials
        (``None`` when it has none). The only reader of credential values: callers use them
        to reach the connector's system and never show or log them."""
        state = self.connector(access, uuid).visible_state()
        if state.credential_id is None:
            return state, None
        return state, self.credential_data(state.credential_id)

    def connector(self, access: Access, uuid: UUID) -> Connector:
        """A connector the caller may see; 404 for unknown, other tenants' and hidden ones."""
        try:
            connector = self.repository.get(uuid)
        except AggregateNotFoundError:
            raise ConnectorNotFoundError(NOT_FOUND) from None
        if not isinstance(connector, Connector) or connector.state.tenant != access.actor.tenant:
            raise ConnectorNotFoundError(NOT_FOUND)
        state = connector.state
        visible = state.erased or can_see(state, access.actor.subject, access.groups,
                                          access.roles)
        if not visible:
            raise ConnectorNotFoundError(NOT_FOUND)
        return connector

    def _changeable(self, access: Access, uuid: UUID, *, deleted_ok: bool = False) -> Connector:
        connector = self.connector(access, uuid)
        state = connector.live_state() if deleted_ok else connector.visible_state()
        if not can_change(state, access.actor.subject, access.groups, access.roles):
            raise ConnectorForbiddenError(
                f"only the owner of connector {state.connector_id} or an admin may change it")
        return connector

    def _stop_syncs(self, actor: Actor, connector_id: UUID) -> list[Any]:
        """The connector's active job, cancelled, and its sync queue, erased, to save with
        the connector's erase (none when it never synced): the erase destroys every job's
        key with the connector's."""
        queue = self._sync_queue(connector_id)
        if queue is None:
            return []
        stopped = []
        if queue.active is not None:
            job = self.repository.get(queue.active)
            job.cancel(actor)
            queue.leave(job.id)
            stopped.append(job)
        queue.erase()
        return [*stopped, queue]  # the queue last: its erase drops the jobs' rows

    def _owned(self, actor: Actor, connector: Connector, document: Any) -> list[Credential]:
        """The connector's own credential, created or rotated with the credentials of a
        ``document`` the connector accepted (none when it has no ``credentials``)."""
        values = document.get("credentials") if isinstance(document, Mapping) else None
        state = connector.state
        if values is None or state.credential_id is None:
            return []
        credential = self._owned_credential(state)
        if credential is None:
            credential = Credential.create_owned(
                actor, state.credential_id, state.id, f"{state.name} credentials",
                state.auth_type or "none", values)
        else:
            credential.rotate_owned(actor, values)
        return [credential]

    def _owned_credential(self, state: ConnectorState) -> Credential | None:
        if state.credential_id is None:
            return None
        try:
            credential = self.repository.get(state.credential_id)
        except AggregateNotFoundError:
            return None
        return credential if isinstance(credential, Credential) else None

    def _rename(self, tenant: str, connector: Connector, before: str) -> list[ConnectorName]:
        after = connector.state.name or ""
        if connector_name_uuid(tenant, before) == connector_name_uuid(tenant, after):
            return []
        entry = claim_name(self._name_entry(tenant, after), tenant, after, connector.id)
        old = self._name_entry(tenant, before)
        return [entry, *([old] if old is not None and old.release(connector.id) else [])]

    def _name_entry(self, tenant: str, name: str) -> ConnectorName | None:
        try:
            return cast(ConnectorName, self.repository.get(connector_name_uuid(tenant, name)))
        except AggregateNotFoundError:
            return None

    def _holder(self, tenant: str, name: str) -> str:
        entry = self._name_entry(tenant, name)
        holder = entry.holder if entry is not None else None
        return encode_connector_id(holder) if holder is not None else ""


def _updated(connector: Connector, access: Access, document: Any, patch: bool) -> bool:
    return (connector.patch(access.actor, document) if patch
            else connector.replace(access.actor, document))


def _destroying(grants: list[OAuthGrant]) -> dict[str, Any]:
    # A claimed grant's tokens now live in the connector only: its data key goes.
    return {DESTROY_KEYS: [g.id for g in grants]} if grants else {}


def _check_version(state: ConnectorState, if_match: Collection[int] | None) -> None:
    if if_match is not None and state.revision not in if_match:
        raise StaleVersionError(state.revision)
