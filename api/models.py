"""The wire: every JSON response body is one of these msgspec Structs (camelCase).

Domain states and read-model rows stay plain; the functions at the end are the only place
that turns them into what clients see.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import msgspec

from domain.common import iso_timestamp
from domain.connectors.auth_schemes import with_messages
from domain.connectors.connections import KINDS
from domain.connectors.definition import ConnectorType, Mode
from domain.connectors.ids import encode_connector_id
from domain.connectors.state import ConnectorState
from domain.credentials.ids import encode_credential_id
from domain.credentials.state import CredentialState
from domain.ids import encode_schema_id
from domain.model import fingerprint
from domain.schema import SchemaState
from domain.tokens import TokenState
from projections.schemas import Revision


class Base(msgspec.Struct, rename="camel", omit_defaults=False):
    """camelCase Struct."""


class FieldOut(Base):
    """A field of a schema."""

    name: str
    type: str
    primary: bool
    required: bool
    description: str | None


class RelationshipOut(Base):
    """A relationship of a schema."""

    name: str
    target: str
    cardinality: str


class SchemaOut(Base):
    """A schema as it is now, or as it was at some version."""

    id: str
    uuid: str
    name: str
    connector_id: str
    key: str
    entity_type: str
    fields: list[FieldOut]
    relationships: list[RelationshipOut]
    version: int
    deleted: bool
    created_at: str
    created_by: str | None
    updated_at: str
    updated_by: str | None
    deleted_at: str | None
    deleted_by: str | None
    fingerprint: str
    """SHA-256 of the content's canonical form (see docs/api.md)."""
    compatibility: str | None
    """The schema's own compatibility mode; ``None`` inherits its connector's."""


class SchemaList(Base):
    """A page of schemas."""

    schemas: list[SchemaOut]
    next_cursor: str | None


class WriteResult(Base):
    """What a create, update or restore answers."""

    id: str
    name: str
    status: str
    version: int


class HistoryEntry(msgspec.Struct, rename="camel", omit_defaults=True):
    """One revision: when, by whom, what changed (``erasedVersions`` on erase records)."""

    version: int
    changed_at: str
    changed_by: str
    changes: list[str]
    erased_versions: int | None = None


class CompatibilityViolation(Base):
    """One broken compatibility rule: where in the candidate, which direction, why."""

    pointer: str
    rule: str
    message: str


class CompatibilityReport(Base):
    """A dry run's answer: whether the candidate may replace the schema, and what it changes."""

    compatible: bool
    mode: str
    """The mode the candidate was checked against: ``?mode=``, else the one a PUT of it
    would be checked against."""
    violations: list[CompatibilityViolation]
    changes: list[str]


class History(Base):
    """A schema's change history, newest first."""

    history: list[HistoryEntry]


class GeneratedId(Base):
    """The schema id a create with this connector and key would assign."""

    id: str
    connector_id: str
    key: str


class GeneratedUuid(Base):
    """The schema UUID a create with this connector and key would assign."""

    uuid: str
    connector_id: str
    key: str


class Health(Base):
    """Liveness answer."""

    status: str


class Readiness(Base):
    """Readiness answer: how far the read models are behind the event store."""

    status: str
    lag: int
    position: int
    max_lag: int


class TokenOut(Base):
    """An API token as listed: never its secret."""

    id: str
    name: str
    app_id: str
    tenant: str
    created_at: str
    created_by: str | None
    last_used_at: str | None
    revoked_at: str | None
    revoked_by: str | None


class IssuedToken(TokenOut):
    """A newly issued token, with its secret: shown this once only."""

    token: str


class TokenList(Base):
    """The API tokens of a tenant."""

    tokens: list[TokenOut]


class AuditEntry(Base):
    """One audited request."""

    id: str
    time: str
    tenant: str
    authenticated: bool
    actor: str | None
    subject: str | None
    app_id: str | None
    method: str
    route: str
    schema_id: str | None
    status: int
    outcome: str
    detail: dict[str, Any] | None


class AuditPage(Base):
    """A page of the audit trail, newest first."""

    entries: list[AuditEntry]
    next_cursor: str | None


class ConnectorTypeOut(Base):
    """One type of the connector catalogue, with the JSON Schema 2020-12 documents a
    connector's ``config`` and ``credentials`` are validated with (sent as they are)."""

    type: str
    name: str
    description: str
    mode: Mode
    protocol: str
    auth_types: list[str]
    oauth: bool
    oauth_scopes: list[str]
    config_schema: dict[str, Any]
    credentials_schema: dict[str, Any]


class ConnectorTypeList(Base):
    """The whole connector catalogue, in catalogue order."""

    connector_types: list[ConnectorTypeOut]


class LastTestOut(Base):
    """The outcome of a connector's last connection test."""

    ok: bool
    status: int
    """200, or the status of the problem the test answered (400, 403, 408, 502)."""
    message: str | None
    """What the system said when the test failed (never a credential value)."""
    latency_ms: int | None


class ConnectionTestOut(Base):
    """A connection test that worked."""

    ok: bool
    latency_ms: int
    checked_at: str


class ConnectorOut(Base):
    """A connector as it is now, or as it was at some version: every field of the model,
    ``null`` when unset. Never a credential value: only which credential fields are set."""

    id: str
    uuid: str
    tenant_id: str
    app_id: str | None
    application_id: str | None
    name: str | None
    type: str | None
    collection: str | None
    provider: str | None
    scope: str
    owner_id: str | None
    group_id: str | None
    user_id: str | None
    shared_users: list[str]
    shared_to_org: bool
    enabled: bool
    compatibility: str
    status: str
    protocol: str | None
    base_url: str | None
    connection_variables: list[dict[str, Any]]
    auth_scheme_configs: list[dict[str, Any]]
    connections: list[dict[str, Any]]
    config: dict[str, Any]
    vault_path: str | None
    auth_type: str | None
    credential_id: str | None
    credential_fields: list[str]
    credentials_set: bool
    credential_last_rotated_at: str | None
    rotation_days: int | None
    next_rotation_due: str | None
    oauth_refresh_needed: bool
    oauth_token_expires_at: str | None
    sync_status: str
    last_sync_at: str | None
    consecutive_errors: int
    last_error: str | None
    last_tested_at: str | None
    last_test: LastTestOut | None
    metrics: dict[str, Any]
    event_types: list[str]
    webhook_endpoint_id: str | None
    tags: dict[str, str]
    public: bool
    documentation_url: str | None = msgspec.field(name="documentationURL")
    image_url: str | None = msgspec.field(name="imageURL")
    source: str
    source_type: str
    schema_version: int
    schemas: list[str]
    schema_count: int
    version: int
    deleted: bool
    created_at: str | None
    created_by: str | None
    updated_at: str | None
    updated_by: str | None
    deleted_at: str | None
    deleted_by: str | None


class ConnectorList(Base):
    """A page of connectors."""

    connectors: list[ConnectorOut]
    next_cursor: str | None


def connector_out(state: ConnectorState) -> ConnectorOut:
    """A connector (current or past) as clients see it; the state holds no credential value."""
    return ConnectorOut(
        id=state.connector_id,
        uuid=str(state.id),
        tenant_id=state.tenant,
        app_id=state.app_id,
        application_id=state.application_id,
        name=state.name,
        type=state.type,
        collection=state.collection,
        provider=state.provider,
        scope=state.scope,
        owner_id=state.owner_id,
        group_id=state.group_id,
        user_id=state.user_id,
        shared_users=list(state.shared_users),
        shared_to_org=state.shared_to_org,
        enabled=state.enabled,
        compatibility=state.compatibility,
        status=state.status,
        protocol=state.protocol,
        base_url=state.base_url,
        connection_variables=[dict(v) for v in state.connection_variables],
        auth_scheme_configs=[with_messages(c) for c in state.auth_scheme_configs],
        connections=connector_connections(state),
        config=dict(state.config),
        vault_path=state.vault_path,
        auth_type=state.auth_type,
        credential_id=(None if state.credential_id is None
                       else encode_credential_id(state.credential_id)),
        credential_fields=list(state.credential_fields),
        credentials_set=state.credentials_set,
        credential_last_rotated_at=iso_timestamp(state.credential_last_rotated_at),
        rotation_days=state.rotation_days,
        next_rotation_due=iso_timestamp(state.next_rotation_due),
        oauth_refresh_needed=state.oauth_refresh_needed,
        oauth_token_expires_at=iso_timestamp(state.oauth_token_expires_at),
        sync_status=state.sync_status,
        last_sync_at=iso_timestamp(state.last_sync_at),
        consecutive_errors=state.consecutive_errors,
        last_error=state.last_error,
        last_tested_at=iso_timestamp(state.last_tested_at),
        last_test=last_test_out(state),
        metrics=dict(state.metrics),
        event_types=list(state.event_types),
        webhook_endpoint_id=state.webhook_endpoint_id,
        tags=dict(state.tags),
        public=state.public,
        documentation_url=state.documentation_url,
        image_url=state.image_url,
        source=state.source,
        source_type=state.source_type,
        schema_version=state.schema_version,
        schemas=[encode_schema_id(s) for s in state.live_schemas],
        schema_count=len(state.live_schemas),
        version=state.revision,
        deleted=state.deleted,
        created_at=iso_timestamp(state.created_at),
        created_by=state.created_by,
        updated_at=iso_timestamp(state.updated_at),
        updated_by=state.updated_by,
        deleted_at=iso_timestamp(state.deleted_at),
        deleted_by=state.deleted_by,
    )


def connector_connections(state: ConnectorState) -> list[dict[str, Any]]:
    """The connections as the connector document shows them: configs expanded, each
    credential by its id (the connection routes expand the credential documents too)."""
    configs = {c["id"]: c for c in state.auth_scheme_configs}
    return [{
        "id": c["id"], "name": c["name"],
        "credentials": {kind: [
            {"id": e["id"], "authSchemeConfig": with_messages(configs[e["authSchemeConfig"]]),
             "credential": {"id": e["credential"]}} for e in c["credentials"][kind]]
            for kind in KINDS},
        "variables": [dict(v) for v in c["variables"]],
        "createdAt": c["createdAt"], "updatedAt": c["updatedAt"],
    } for c in state.connections]


def last_test_out(state: ConnectorState) -> LastTestOut | None:
    """The last test's outcome, ``None`` before the first test."""
    if state.last_test_ok is None or state.last_test_status is None:
        return None
    return LastTestOut(ok=state.last_test_ok, status=state.last_test_status,
                       message=state.last_test_message, latency_ms=state.last_test_latency_ms)


class CredentialOut(Base):
    """A credential as it is now, or as it was at some version. Never its data: only the
    names of the data fields that are set (``dataFields``) and that data is set."""

    id: str
    uuid: str
    tenant: str
    app_id: str | None
    name: str | None
    type: str | None
    data_fields: list[str]
    data_set: bool
    connector_id: str | None
    errors: list[str] | None
    usages: list[dict[str, Any]]
    expires_at: str | None
    rotated_at: str | None
    status: str
    version: int
    deleted: bool
    created_at: str | None
    created_by: str | None
    updated_at: str | None
    updated_by: str | None
    deleted_at: str | None
    deleted_by: str | None


class CredentialList(Base):
    """A page of credentials."""

    credentials: list[CredentialOut]
    next_cursor: str | None


def credential_out(state: CredentialState,
                   usages: list[dict[str, Any]] | None = None) -> CredentialOut:
    """A credential (current or past) as clients see it; the state holds no data value.

    ``usages`` rendered by the caller (seed 003's shape, with connector summaries); left out,
    each usage names its connection and connector by what the credential recorded.
    """
    if usages is None:
        usages = [{"connection": {"id": u["connectionId"], "name": u["connectionName"],
                                  "connector": {"id": encode_connector_id(
                                      UUID(u["connectorId"]))}}} for u in state.usages]
    return CredentialOut(
        id=state.credential_id, uuid=str(state.id), tenant=state.tenant, app_id=state.app_id,
        name=state.name, type=state.type, data_fields=list(state.data_fields),
        data_set=state.data_set,
        connector_id=(None if state.connector_id is None
                      else encode_connector_id(state.connector_id)),
        errors=None if state.errors is None else list(state.errors),
        usages=usages, expires_at=iso_timestamp(state.expires_at),
        rotated_at=iso_timestamp(state.rotated_at),
        status="erased" if state.erased else "deleted" if state.deleted else "active",
        version=state.revision, deleted=state.deleted,
        created_at=iso_timestamp(state.created_at), created_by=state.created_by,
        updated_at=iso_timestamp(state.updated_at), updated_by=state.updated_by,
        deleted_at=iso_timestamp(state.deleted_at), deleted_by=state.deleted_by,
    )


def schema_out(state: SchemaState) -> SchemaOut:
    """A schema (current or past) as clients see it: a function of its events alone, so
    that its version stands for it (ETags, immutable past versions)."""
    content = state.content
    assert content is not None and state.connector_id is not None and state.key is not None
    return SchemaOut(
        id=state.schema_id,
        uuid=str(state.id),
        name=content.name,
        connector_id=state.connector_id,
        key=state.key,
        entity_type=content.entity_type,
        fields=[FieldOut(f.name, f.type, f.primary, f.required, f.description)
                for f in content.fields],
        relationships=[RelationshipOut(r.name, r.target, r.cardinality)
                       for r in content.relationships],
        version=state.revision,
        deleted=state.deleted,
        created_at=iso_timestamp(state.created_at) or "",
        created_by=state.created_by,
        updated_at=iso_timestamp(state.updated_at) or "",
        updated_by=state.updated_by,
        deleted_at=iso_timestamp(state.deleted_at),
        deleted_by=state.deleted_by,
        fingerprint=fingerprint(content),
        compatibility=state.compatibility,
    )


def write_result(state: SchemaState, status: str) -> WriteResult:
    """What a create, update or restore answers."""
    name = state.content.name if state.content else ""
    return WriteResult(id=state.schema_id, name=name, status=status, version=state.revision)


def history_entry(revision: Revision) -> HistoryEntry:
    """One revision of a schema's history."""
    return HistoryEntry(revision.version, revision.changed_at, revision.changed_by,
                        revision.changes, revision.erased_versions)


def token_out(state: TokenState) -> TokenOut:
    """An API token as listed (never the secret or its hash)."""
    return TokenOut(
        id=str(state.id),
        name=state.name,
        app_id=state.app_id,
        tenant=state.tenant,
        created_at=iso_timestamp(state.created_at) or "",
        created_by=state.created_by,
        last_used_at=iso_timestamp(state.last_used_at),
        revoked_at=iso_timestamp(state.revoked_at),
        revoked_by=state.revoked_by,
    )


def issued_token(state: TokenState, text: str) -> IssuedToken:
    """A newly issued token with its secret, shown this once."""
    listed = token_out(state)
    fields = {f: getattr(listed, f) for f in listed.__struct_fields__}
    return IssuedToken(**fields, token=text)


def audit_entry(row: dict[str, Any]) -> AuditEntry:
    """One row of the audit trail."""
    return AuditEntry(
        id=row["id"],
        time=row["recorded_at"],
        tenant=row["tenant"],
        authenticated=bool(row["authenticated"]),
        actor=row["email"] or row["subject"],
        subject=row["subject"],
        app_id=row["app_id"],
        method=row["method"],
        route=row["route"],
        schema_id=row["schema_id"],
        status=row["status"],
        outcome=row["outcome"],
        detail=json.loads(row["detail"]) if row.get("detail") else None,
    )


def connector_type_out(entry: ConnectorType) -> ConnectorTypeOut:
    """A catalogue entry as clients see it."""
    return ConnectorTypeOut(
        type=entry.type,
        name=entry.name,
        description=entry.description,
        mode=entry.mode,
        protocol=entry.protocol,
        auth_types=list(entry.auth_types),
        oauth=entry.oauth,
        oauth_scopes=list(entry.oauth_scopes),
        config_schema=entry.config_schema,
        credentials_schema=entry.credentials_schema,
    )


class OAuthAuthorizeOut(Base):
    """Where to send the user to authorise: the provider's URL, with ``state`` and a PKCE
    challenge."""

    auth_url: str


class OAuthKeyOut(Base):
    """The one-time key a connector create or update takes as ``?oauth-key=``."""

    oauth_key: str
    expires_at: str
