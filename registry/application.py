"""The eventsourcing Application: one method per command, the only writer of events.

Every save is followed, in the same call, by the read models catching up (the ``_notify``
hook), so a command that returns is visible to the next read: callers need no wrapper that
re-declares each command to add read-your-writes.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Recording,
)
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType

from domain.audit import AuditRecord
from domain.common import Actor
from domain.compatibility import Incompatibility, Mode, check, effective_mode
from domain.connectors.connector import Connector
from domain.connectors.errors import (
    CONNECTOR_NOT_FOUND,
    ConnectorDeletedError,
    ConnectorErasedError,
    ConnectorNotFoundError,
)
from domain.connectors.ids import canonical_connector_id, decode_connector_id
from domain.errors import (
    NOT_FOUND,
    ConcurrentWriteError,
    IncompatibleSchemaError,
    SchemaForbiddenError,
    SchemaNotFoundError,
    SchemaValidationError,
    StaleVersionError,
    Violation,
)
from domain.ids import encode_schema_id, schema_uuid
from domain.model import SchemaContent, parse_content, validate_token_request
from domain.schema import KEEP, Requested, Schema, SchemaState
from domain.tokens import ApiToken, TokenNotFoundError, TokenState
from projections.audit import AuditProjection
from projections.connectors import TABLES as CONNECTOR_TABLES
from projections.connectors import ConnectorProjection, ConnectorQueries, ConnectorStateAsJson
from projections.credentials import TABLES as CREDENTIAL_TABLES
from projections.credentials import CredentialProjection, CredentialQueries
from projections.db import Cursor, Database, Dialect
from projections.feed import TABLE as FEED_TABLE
from projections.feed import FeedProjection
from projections.history import describe_changes
from projections.oauth import OAuthGrantProjection, OAuthGrantQueries
from projections.runner import Projector
from projections.schemas import TABLES as SCHEMA_TABLES
from projections.schemas import SchemaProjection, SchemaQueries, history_view
from projections.sync import SyncJobProjection, SyncJobQueries
from projections.tokens import TokenProjection
from projections.webhooks import WebhookProjection, WebhookQueries
from registry import tokens
from registry.actions import ActionCommands
from registry.connections import ConnectionCommands
from registry.connectors import Access, ConnectorCommands
from registry.credentials import CredentialCommands
from registry.health import DatabaseUnavailableError
from registry.oauth import OAuthCommands
from registry.oauth_settings import OAuthSettings
from registry.persistence import DESTROY_KEYS, KEYS_TABLE, PROJECT, RECORDS_TABLE
from registry.records import upgrade_legacy_records
from registry.sandbox import Sandbox
from registry.scripts import ScriptCommands
from registry.shredding import DataKeys, ShreddingEventStore, ShreddingMapper
from registry.sync import SyncCommands
from registry.webhooks import WebhookCommands

log = logging.getLogger("registry")


@dataclass
class AuditDraft:
    """The audit record of the request being served, saved with the command's own events.

    The API sets it (:data:`PENDING_AUDIT`) around a state-changing request; the first save
    of the request adds the record to that save's transaction, so a change and its audit
    record are stored together or not at all. ``saved`` tells the API it needs no second one.
    """

    fields: dict[str, Any]
    status: int
    schema_id: str | None
    saved: bool = False

    def record(self, events: Sequence[object]) -> AuditRecord:
        """The record of a successful request that saved these events."""
        schema_id = self.schema_id or next(
            (encode_schema_id(e.originator_id) for e in events if isinstance(e, Schema.Event)),
            None,
        )
        return AuditRecord.record(
            **self.fields, schema_id=schema_id, status=self.status, outcome="success"
        )


PENDING_AUDIT: ContextVar[AuditDraft | None] = ContextVar("pending_audit", default=None)
SNAPSHOT_INTERVAL = 50
"""Connector versions between snapshots: a load reads at most this many events after one."""
RETRY_SECONDS = 10.0
"""How long a command that saves several aggregates (a schema and its connector) retries
while concurrent writes win: an admin's erase, or one of many schema creates under one
connector, is not starved."""
TORN_READ_ATTEMPTS = 3
ERASABLE_TABLES = (*SCHEMA_TABLES, *CONNECTOR_TABLES, *CREDENTIAL_TABLES, FEED_TABLE)
"""Read-model tables an erase deletes content from: vacuumed after each erase."""
Listener = Callable[[Sequence[object]], None]
T = TypeVar("T")


def database_of(app: Application[UUID]) -> Database:
    """The SQL access to an application's own event store database."""
    datastore = cast(Any, app.factory).datastore
    postgres = isinstance(app.factory, PostgresFactory)
    return Database(datastore, "postgres" if postgres else "sqlite")


class SchemaRegistry(ConnectionCommands, ConnectorCommands, CredentialCommands, OAuthCommands,
                     ScriptCommands, SyncCommands, ActionCommands, WebhookCommands,
                     Application[UUID]):
    """Commands on schemas, connectors, credentials, OAuth grants, script versions, sync
    jobs, actions, API tokens and the audit trail, saved as events."""

    name = "SchemaRegistry"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Connector: SNAPSHOT_INTERVAL}
    """A connector is read back from its latest snapshot and the events since."""

    def __init__(self, env: EnvType | None = None, oauth: OAuthSettings | None = None) -> None:
        super().__init__(env=env)
        self.oauth = oauth or OAuthSettings()
        self.db = database_of(self)
        self.projector = Projector(
            self.db,
            self.recorder,
            self.mapper,
            [SchemaProjection(), ConnectorProjection(), CredentialProjection(),
             TokenProjection(), AuditProjection(), SyncJobProjection(),
             OAuthGrantProjection(), FeedProjection(), WebhookProjection()],
            name="read_models",
        )
        self.projector.create_tables()
        upgrade_legacy_records(self.db)
        self.schemas = SchemaQueries(self.db)
        self.credentials = CredentialQueries(self.db)
        self.sync_jobs = SyncJobQueries(self.db)
        self.oauth_grants = OAuthGrantQueries(self.db)
        self.connector_queries = ConnectorQueries(self.db)
        self.webhooks = WebhookQueries(self.db)
        self.listeners: list[Listener] = []
        self._projected = threading.local()
        self.sandbox = Sandbox()
        """Where collector scripts run; the service sets the one its settings describe."""

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the given settings configure persistence, never stray process variables."""
        return Environment(name, {"IS_SNAPSHOTTING_ENABLED": "y", **dict(env or {})})

    def construct_mapper(self) -> Mapper[UUID]:
        mapper = ShreddingMapper(transcoder=self.construct_transcoder())
        mapper.keys = DataKeys(database_of(self))
        return mapper

    def construct_event_store(self) -> EventStore[UUID]:
        return ShreddingEventStore(mapper=self.mapper, recorder=self.recorder)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, looking each aggregate's data key up once for all its new events."""
        with self._keys.scope():
            return super().save(*objs, **kwargs)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        # After the save's transaction: the keys it remembered may have been destroyed by it.
        with self._keys.unscoped():
            super()._take_snapshots(processing_event)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ConnectorStateAsJson())

    @property
    def _keys(self) -> DataKeys:
        return cast(ShreddingMapper, self.mapper).keys

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        # The request's audit record and the read models are written in the events' own
        # transaction (the read models when they are up to date).
        draft = PENDING_AUDIT.get()
        if draft is not None and not draft.saved:
            processing_event.collect_events(draft.record(processing_event.events))
        events = list(processing_event.events)
        projected: list[bool] = []

        def project(raw: Any, dialect: Dialect, table: str, column: str, ids: Any) -> None:
            projected.append(
                self.projector.apply_inline(Cursor(raw, dialect), events, table, column, ids)
            )

        processing_event.saved_kwargs[PROJECT] = project
        recordings = super()._record(processing_event)
        self._projected.inline = bool(projected and projected[0])
        if draft is not None:
            draft.saved = True
        return recordings

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if not getattr(self._projected, "inline", False):
            self._catch_up()
        events = [recording.domain_event for recording in recordings]
        for listener in self.listeners:
            listener(events)

    def _catch_up(self) -> None:
        # The events are committed: a failing catch-up must not turn that into an error.
        # The follower (and the next write) retries it.
        try:
            self.projector.catch_up()
        except DatabaseUnavailableError:
            log.warning("read models could not catch up after a write: the database is "
                        "unavailable; will retry")
        except Exception:
            log.exception("read models could not catch up after a write; will retry")

    # Schemas ------------------------------------------------------------------------------

    def create_schema(self, access: Access, document: Any) -> SchemaState:
        """:meth:`register_schema` for callers that need only the state."""
        state, _ = self.register_schema(access, document)
        return state

    def register_schema(self, access: Access, document: Any) -> tuple[SchemaState, bool]:
        """Create a schema under a live connector the caller can see; answers the state and
        whether it was created. When its key exists: nothing happens if the schema is live
        with identical content (same fingerprint), 409 otherwise.

        The connector records the new schema in the same save, so a create racing the
        connector's delete either lands first (and the delete sees it) or fails.
        """
        actor = access.actor
        content = parse_content(document)
        connector_uuid = _connector_reference(document.get("connectorId"))
        key = document.get("key") or content.entity_type
        requested = _requested_compatibility(document)
        own = None if requested is KEEP else requested

        def attempt() -> tuple[SchemaState, bool]:
            connector = self._schema_connector(access, connector_uuid)
            connector_id = connector.state.connector_id
            uuid = schema_uuid(actor.tenant, connector_id, key)
            try:
                schema = self._get(uuid)
            except SchemaNotFoundError:
                schema = Schema.create(actor, connector_id, key, content, own)
            else:
                if schema.holds(content, requested):
                    return schema.state, False
                schema.recreate(actor, connector_id, key, content, own)
            connector.attach_schema(actor, uuid)
            self._save(schema, connector)
            return schema.state, True

        return self._retrying(attempt)

    def update_schema(
        self, access: Access, uuid: UUID, document: Any, if_match: Collection[int] | None
    ) -> tuple[SchemaState, bool]:
        """Replace a schema's content; answers the state and whether anything changed."""
        schema = self._get(uuid, access.actor.tenant)
        state = schema.visible_state()
        _check_version(state, if_match)
        content = _replacement(state, document)
        connector = self._connector_of(access, schema)
        requested = _requested_compatibility(document)
        mode = _mode_after(schema, connector, requested)
        violations = self._violations(state, content, mode)
        if violations:
            raise IncompatibleSchemaError(mode.value, [v.to_dict() for v in violations])
        changed = schema.replace(access.actor, content, requested)
        if changed:
            self._save(schema)
        return schema.state, changed

    def check_schema_compatibility(
        self, access: Access, uuid: UUID, document: Any, mode: Mode | None
    ) -> CompatibilityReport:
        """Whether ``document`` could replace the schema under ``mode``; records nothing.

        Without ``mode`` the mode a PUT of the document is checked against applies (see
        :func:`_mode_after`).
        """
        schema = self._get(uuid, access.actor.tenant)
        state = schema.visible_state()
        content = _replacement(state, document)
        connector = self._connector_of(access, schema)
        requested = _requested_compatibility(document)
        chosen = mode or _mode_after(schema, connector, requested)
        violations = self._violations(state, content, chosen)
        after = dataclasses.replace(state, content=content,
                                    compatibility=schema.mode_after(requested))
        changes = describe_changes(history_view(state), history_view(after) or {})
        return CompatibilityReport(not violations, chosen, violations, changes)

    def _violations(
        self, state: SchemaState, content: SchemaContent, mode: Mode
    ) -> list[Incompatibility]:
        """What ``content`` breaks as a replacement of the schema under ``mode``: the
        current version from the aggregate, and for transitive modes every earlier live
        version from the read model. The dry run and the PUT both ask this."""
        current = state.content
        if current is None:
            raise SchemaNotFoundError(NOT_FOUND)
        history = [(state.revision, current)]
        if mode.transitive:
            history = self._live_versions(state) + history
        return check(content, history, mode)

    def _live_versions(self, state: SchemaState) -> list[tuple[int, SchemaContent]]:
        """Each live (non-erased) version before the current one with its content, oldest
        first; a version whose content equals the one before it (a delete, a restore) is
        left out."""
        found: list[tuple[int, SchemaContent]] = []
        for version in range(state.erased_through + 1, state.revision):
            past = self.schemas.version(state.tenant, state.id, version)
            content = None if past is None else past.content
            if content is not None and (not found or found[-1][1] != content):
                found.append((version, content))
        return found

    def delete_schema(self, access: Access, connector_id: str, uuid: UUID) -> SchemaState:
        """Soft-delete a schema of the given connector; the connector records it."""

        def attempt() -> SchemaState:
            schema, connector = self._held(access, connector_id, uuid)
            schema.delete(access.actor)
            connector.delete_schema(access.actor, uuid)
            self._save(schema, connector)
            return schema.state

        return self._retrying(attempt)

    def restore_schema(self, access: Access, connector_id: str, uuid: UUID) -> SchemaState:
        """Bring back a soft-deleted schema as a new version; its connector must be live."""

        def attempt() -> SchemaState:
            schema, connector = self._held(access, connector_id, uuid)
            schema.restore(access.actor)
            connector.restore_schema(access.actor, uuid)
            self._save(schema, connector)
            return schema.state

        return self._retrying(attempt)

    def erase_schema(self, access: Access, connector_id: str, uuid: UUID) -> SchemaState:
        """Destroy a schema's content for good: its data key goes with the erase event, and
        the connector lets go of it in the same save."""

        def attempt() -> SchemaState:
            schema, connector = self._held(access, connector_id, uuid)
            schema.erase(access.actor)
            connector.detach_schema(access.actor, uuid)
            self._save(schema, connector, **{DESTROY_KEYS: [uuid]})
            return schema.state

        state = self._retrying(attempt)
        self._reclaim()
        return state

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run a command again while concurrent writes win its save, for up to
        :data:`RETRY_SECONDS`: every attempt reloads, so it decides on fresh state and a
        stream of other writes (schemas created under one connector) cannot starve it."""
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                return attempt()
            except ConcurrentWriteError:
                if time.monotonic() > deadline:
                    raise

    def _schema_connector(self, access: Access, uuid: UUID) -> Connector:
        """The live connector a new schema goes under; 422 at ``/connectorId`` otherwise."""
        try:
            connector = self.connector(access, uuid)
            connector.visible_state()
        except ConnectorNotFoundError:
            raise _bad_connector("no connector with this id in your tenant") from None
        except ConnectorDeletedError:
            raise _bad_connector("the connector is deleted; restore it first") from None
        except ConnectorErasedError:
            raise _bad_connector("the connector was erased") from None
        return connector

    def _connector_of(self, access: Access, schema: Schema) -> Connector:
        """The connector holding a live schema; only callers who can see it change its
        schemas. An erased schema answers its own error first."""
        state = schema.live_state()
        uuid = decode_connector_id(state.connector_id or "")
        if uuid is None:
            raise ConnectorNotFoundError(CONNECTOR_NOT_FOUND)
        try:
            return self.connector(access, uuid)
        except ConnectorNotFoundError:
            raise _hidden(state.connector_id) from None

    def _held(self, access: Access, connector_id: str, uuid: UUID) -> tuple[Schema, Connector]:
        """A live schema of the connector the path names, and that connector.

        The connector is loaded first and the schema last, so the time between reading the
        schema and saving it is as short as before schemas had connectors: an erase racing a
        stream of updates of that schema still wins its turn.
        """
        connector_uuid = decode_connector_id(connector_id)
        if connector_uuid is None:
            raise SchemaNotFoundError(NOT_FOUND)
        try:
            connector: Connector | None = self.connector(access, connector_uuid)
        except ConnectorNotFoundError:
            connector = None  # unknown, or hidden from the caller: the schema decides which
        schema = self._get(uuid, access.actor.tenant, connector_id)
        state = schema.live_state()
        if connector is None:
            raise _hidden(state.connector_id)
        return schema, connector

    def _reclaim(self) -> None:
        try:
            self.db.reclaim_space([*ERASABLE_TABLES, KEYS_TABLE, RECORDS_TABLE])
        except Exception:  # the erase is committed; the space is reclaimed by a later erase
            log.exception("could not reclaim space after an erase")

    # API tokens -------------------------------------------------------------------------

    def issue_api_token(
        self, actor: Actor, name: str, app_id: str | None
    ) -> tuple[TokenState, str]:
        """Issue a token for the actor's tenant; answers its state and the one-time secret."""
        _check_token_fields(name, app_id)
        secret = tokens.generate()
        token = ApiToken.issue(
            actor, secret.token_id, name, app_id or str(secret.token_id), secret.secret_hash
        )
        self.save(token)
        return token.state, secret.text

    def revoke_api_token(self, actor: Actor, token_id: UUID) -> TokenState:
        """Revoke a token of the actor's tenant."""
        token = self._token(token_id, actor.tenant)
        token.revoke(actor)
        self._save(token)
        return token.state

    def record_token_use(self, actor: Actor, token_id: UUID) -> None:
        """Note that a token authenticated a request."""
        token = self._token(token_id, actor.tenant)
        token.record_use(actor)
        self._save(token)

    def _token(self, token_id: UUID, tenant: str) -> ApiToken:
        try:
            token = cast(ApiToken, self.repository.get(token_id))
        except AggregateNotFoundError:
            raise TokenNotFoundError("API token not found") from None
        if not isinstance(token, ApiToken) or token.state.tenant != tenant:
            raise TokenNotFoundError("API token not found")
        return token

    # Audit ------------------------------------------------------------------------------

    def record_audit(self, **fields: Any) -> None:
        """Append one audit record."""
        self.save(AuditRecord.record(**fields))

    # Loading ----------------------------------------------------------------------------

    def _get(
        self, uuid: UUID, tenant: str | None = None, connector_id: str | None = None
    ) -> Schema:
        # Another tenant's id must cost what an unknown id costs: one indexed lookup, then
        # 404, without loading (and decrypting) that tenant's events. A schema's tenant never
        # changes, so the read model cannot be wrong about it; a row not there yet (lag) falls
        # through to the aggregate, which checks the tenant again.
        if tenant is not None and self.schemas.tenant_of(uuid) not in (None, tenant):
            raise SchemaNotFoundError(NOT_FOUND)
        schema = self._load(uuid)
        state = schema.state
        wrong_tenant = tenant is not None and state.tenant != tenant
        wrong_connector = (
            connector_id is not None and state.exists
            and state.connector_id != canonical_connector_id(connector_id)
        )
        if wrong_tenant or wrong_connector:
            raise SchemaNotFoundError(NOT_FOUND)
        return schema

    def _load(self, uuid: UUID) -> Schema:
        # An erase that commits while the events are being read leaves them readable but
        # their key destroyed: every event reads back redacted and the erase event is missing.
        # Reading again sees the erase.
        schema: Any = None
        for _ in range(TORN_READ_ATTEMPTS):
            try:
                schema = self.repository.get(uuid)
            except AggregateNotFoundError:
                raise SchemaNotFoundError(NOT_FOUND) from None
            if not isinstance(schema, Schema):
                raise SchemaNotFoundError(NOT_FOUND)
            if schema.state.tenant or not schema.version:
                break
        return cast(Schema, schema)

    def _save(self, *aggregates: Any, **kwargs: Any) -> None:
        try:
            self.save(*aggregates, **kwargs)
        except IntegrityError:
            raise ConcurrentWriteError(
                "the resource was changed by another request at the same time; retry"
            ) from None


def _connector_reference(value: Any) -> UUID:
    if value is None:
        raise _bad_connector("connectorId is required")
    uuid = decode_connector_id(value) if isinstance(value, str) else None
    if uuid is None:
        raise _bad_connector("must be a connector id (cnn_... or its UUID form)")
    return uuid


def _comparable(name: str, value: Any) -> Any:
    # A connector id may be given in its UUID form; it is stored in its cnn_ form.
    if name == "connectorId" and isinstance(value, str):
        return canonical_connector_id(value)
    return value


def _hidden(connector_id: str | None) -> SchemaForbiddenError:
    return SchemaForbiddenError(
        f"only callers who can see connector {connector_id} may change its schemas")


def _bad_connector(message: str) -> SchemaValidationError:
    return SchemaValidationError([Violation("/connectorId", message)])


def _check_token_fields(name: str, app_id: str | None) -> None:
    request = {"name": name} | ({} if app_id is None else {"appId": app_id})
    violations = validate_token_request(request)
    if violations:
        raise SchemaValidationError(violations)


def _mode_after(schema: Schema, connector: Connector, requested: Requested) -> Mode:
    """The effective mode once a PUT asking for ``requested`` is done: the mode it sets, else
    the schema's own, else the connector's (which defaults to ``BACKWARD``)."""
    return effective_mode(schema.mode_after(requested), connector.state.compatibility)


def _requested_compatibility(document: Any) -> Requested:
    """The compatibility a schema document asks for: its value (a mode or ``None``), or
    :data:`KEEP` when the key is absent. The document is validated already."""
    if isinstance(document, dict) and "compatibility" in document:
        value: str | None = document["compatibility"]
        return value
    return KEEP


def _check_version(state: SchemaState, if_match: Collection[int] | None) -> None:
    if if_match is not None and state.revision not in if_match:
        raise StaleVersionError(state.revision)


@dataclass(frozen=True)
class CompatibilityReport:
    """The answer of a dry run: compatible or not, why, and what the candidate changes."""

    compatible: bool
    mode: Mode
    violations: list[Incompatibility]
    changes: list[str]


def _replacement(state: SchemaState, document: Any) -> SchemaContent:
    """The content of a replacing document, which may repeat but not change the schema's
    ``connectorId`` and ``key``."""
    content = parse_content(document)
    violations = [
        Violation(f"/{name}", f"must be {current!r}: it cannot change")
        for name, current in (("connectorId", state.connector_id), ("key", state.key))
        if name in document and _comparable(name, document[name]) != current
    ]
    if violations:
        raise SchemaValidationError(violations)
    return content
