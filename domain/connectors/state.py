"""The state of a connector after some revision, shared by the aggregate and the read models.

It never holds a credential value: only which credential fields are set (the values are in
the credential it owns, ``credential_id``). Values that follow
from others (status, protocol, base URL, next rotation) are properties, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.common import RevisionState
from domain.connectors.catalogue import get_type
from domain.connectors.ids import encode_connector_id, owned_credential_uuid

SCOPES = ("org", "user", "group")
SOURCE_TYPES = ("frontend", "backend", "server", "system", "api")

SCALAR_FIELDS: dict[str, str] = {
    "collection": "collection",
    "provider": "provider",
    "groupId": "group_id",
    "userId": "user_id",
    "sharedToOrg": "shared_to_org",
    "public": "public",
    "documentationURL": "documentation_url",
    "imageURL": "image_url",
    "applicationId": "application_id",
    "rotationDays": "rotation_days",
    "eventTypes": "event_types",
    "webhookEndpointId": "webhook_endpoint_id",
    "vaultPath": "vault_path",
    "source": "source",
    "sourceType": "source_type",
    "compatibility": "compatibility",
}
"""Document fields recorded as ``FieldChanged``: wire name -> state attribute."""

UNSET: dict[str, Any] = {
    "collection": None, "provider": None, "groupId": None, "userId": None,
    "sharedToOrg": False, "public": False, "documentationURL": None, "imageURL": None,
    "applicationId": None,
    "rotationDays": None, "eventTypes": [], "webhookEndpointId": None, "vaultPath": None,
    "source": "edm", "sourceType": "api", "scope": "user", "enabled": True,
    "sharedUsers": [], "tags": {}, "config": {}, "compatibility": "BACKWARD",
}
"""What a field a PUT leaves out becomes."""


@dataclass(frozen=True)
class ConnectorState(RevisionState):
    """Everything known about a connector after some revision (never a credential value)."""

    source: str = "edm"
    source_type: str = "api"
    schema_version: int = 1
    type: str | None = None
    provider: str | None = None
    name: str | None = None
    collection: str | None = None
    scope: str = "user"
    owner_id: str | None = None
    group_id: str | None = None
    user_id: str | None = None
    shared_users: tuple[str, ...] = ()
    shared_to_org: bool = False
    config: Mapping[str, Any] = field(default_factory=dict)
    vault_path: str | None = None
    auth_type: str | None = None
    credential_fields: tuple[str, ...] = ()
    credentials_set: bool = False
    credential_last_rotated_at: datetime | None = None
    rotation_days: int | None = None
    oauth_refresh_needed: bool = False
    oauth_token_expires_at: datetime | None = None
    oauth_refresh_until: datetime | None = None
    """While a refresh runs: until when no other process starts one."""
    enabled: bool = True
    compatibility: str = "BACKWARD"
    """The compatibility mode of its schemas that set none of their own."""
    sync_status: str = "idle"
    last_sync_at: datetime | None = None
    consecutive_errors: int = 0
    last_error: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    event_types: tuple[str, ...] = ()
    webhook_endpoint_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    public: bool = False
    documentation_url: str | None = None
    image_url: str | None = None
    application_id: str | None = None
    last_tested_at: datetime | None = None
    """When the connection was last tested (``None``: never)."""
    last_test_ok: bool | None = None
    last_test_status: int | None = None
    """The status the last test answered: 200, or its problem's (400, 403, 408, 502)."""
    last_test_message: str | None = None
    """What the system said when the last test failed (never a credential value)."""
    last_test_latency_ms: int | None = None
    schemas: tuple[UUID, ...] = ()
    """Every schema the connector holds, soft-deleted ones included (an erase takes them all)."""
    deleted_schemas: tuple[UUID, ...] = ()
    """The held schemas that are soft-deleted."""
    connection_variables: tuple[Mapping[str, Any], ...] = ()
    """``{name, value}`` pairs; set, they overwrite the variables of every connection."""
    auth_scheme_configs: tuple[Mapping[str, Any], ...] = ()
    """The auth scheme configs in their order, as stored (no ``validationMessages``)."""
    connections: tuple[Mapping[str, Any], ...] = ()
    """The connections in creation order: ``{id, name, credentials, variables, createdAt,
    updatedAt}`` with credential ids (``crd_``), never a credential value."""

    @property
    def live_schemas(self) -> tuple[UUID, ...]:
        """The held schemas that are not soft-deleted: the connector's ``schemaCount``."""
        return tuple(s for s in self.schemas if s not in self.deleted_schemas)

    @property
    def exists(self) -> bool:
        """True while the connector has content (not never-created, not erased)."""
        return self.type is not None

    @property
    def credential_id(self) -> UUID | None:
        """The credential holding its credentials (saved with them), when it has some."""
        return owned_credential_uuid(self.id) if self.credentials_set else None

    @property
    def connector_id(self) -> str:
        """The public ``cnn_`` id."""
        return encode_connector_id(self.id)

    @property
    def status(self) -> str:
        """One word for lists: erased, deleted, disabled, error or active."""
        if self.erased:
            return "erased"
        if self.deleted:
            return "deleted"
        if not self.enabled:
            return "disabled"
        return "error" if self.sync_status == "error" else "active"

    @property
    def protocol(self) -> str | None:
        """How the type is reached (http, sql, s3...), from the catalogue."""
        entry = get_type(self.type) if self.type else None
        return entry.protocol if entry else None

    @property
    def base_url(self) -> str | None:
        """The address requests start from, when the config has one."""
        value = self.config.get("baseUrl") or self.config.get("instanceUrl")
        return str(value) if value else None

    @property
    def next_rotation_due(self) -> datetime | None:
        """When the credentials are due for rotation, if a rotation period is set."""
        if self.rotation_days is None or self.credential_last_rotated_at is None:
            return None
        return self.credential_last_rotated_at + timedelta(days=self.rotation_days)

    def editable(self) -> dict[str, Any]:
        """The user-controlled fields as a connector document (camelCase, no credentials).

        A PATCH is merged into this document, and a PUT is compared with it.
        """
        document: dict[str, Any] = {
            "name": self.name, "type": self.type, "scope": self.scope,
            "ownerId": self.owner_id, "enabled": self.enabled,
            "sharedUsers": list(self.shared_users), "tags": dict(self.tags),
            "config": dict(self.config),
        }
        for wire, attribute in SCALAR_FIELDS.items():
            value = getattr(self, attribute)
            document[wire] = list(value) if isinstance(value, tuple) else value
        return document
