"""Response bodies as msgspec Structs (camelCase on the wire)."""

from __future__ import annotations

from typing import Any

import msgspec


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


def schema_out(document: dict[str, Any]) -> SchemaOut:
    """A read-model document as a response Struct."""
    return msgspec.convert(document, SchemaOut, from_attributes=False)


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
    path: str
    schema_id: str | None
    status: int
    outcome: str


class AuditPage(Base):
    """A page of the audit trail, newest first."""

    entries: list[AuditEntry]
    next_cursor: str | None
