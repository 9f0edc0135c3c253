"""Named test schemas and helpers shared by every test layer."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from domain.common import Actor
from registry.auth import issue_token
from registry.connectors import Access

if TYPE_CHECKING:
    from registry.service import Registry

SECRET = "test-secret-0123456789-abcdefghij"
API = "/internal/v1/connector/universal"
ADMIN = Actor(subject="admin-1", tenant="acme", email="admin@example.com")

SEED_CREATE: dict[str, Any] = {
    "name": "Custom REST API",
    "connectorId": "connector-uuid",
    "entityType": "account",
    "fields": [
        {"name": "userId", "type": "string", "primary": True},
        {"name": "username", "type": "string"},
        {"name": "email", "type": "string"},
        {"name": "role", "type": "string"},
        {"name": "active", "type": "boolean"},
    ],
}

DEVICES: dict[str, Any] = {
    "name": "Fleet devices",
    "connectorId": "mdm-42",
    "entityType": "device",
    "key": "devices",
    "fields": [
        {"name": "serial", "type": "string", "primary": True, "required": True,
         "description": "Hardware serial number"},
        {"name": "owners", "type": "email[]"},
        {"name": "lastSeen", "type": "datetime"},
    ],
    "relationships": [{"name": "owner", "target": "account", "cardinality": "one"}],
}


def connector_body(name: str = "Test connector", **changes: Any) -> dict[str, Any]:
    """A universal connector the whole tenant can see."""
    return {"name": name, "type": "universal", "scope": "org",
            "config": {"baseUrl": "https://api.example.com", "allowedHosts": ["api.example.com"]},
            **changes}


def placed(document: dict[str, Any], tenant: str = "acme") -> dict[str, Any]:
    """The schema document under a real connector: its ``connectorId`` label ("connector-uuid",
    "mdm-42"...) is replaced by the id of the tenant's connector of that name."""
    return {**document, "connectorId": Credentials.connector_id(tenant, document["connectorId"])}


def seed_create() -> dict[str, Any]:
    """A fresh copy of the seed's create body."""
    return copy.deepcopy(SEED_CREATE)


def devices() -> dict[str, Any]:
    """A fresh copy of a schema with descriptions and relationships."""
    return copy.deepcopy(DEVICES)


def with_marker(marker: str) -> dict[str, Any]:
    """A schema whose name, field names and descriptions all carry ``marker``."""
    return {
        "name": f"Schema {marker}",
        "connectorId": "marker-connector",
        "entityType": "account",
        "key": f"key-{marker}",
        "fields": [
            {"name": f"id_{marker}", "type": "string", "primary": True,
             "description": f"primary key {marker}"},
            {"name": f"value_{marker}", "type": "json", "description": f"payload {marker}"},
        ],
        "relationships": [{"name": f"rel_{marker}", "target": "group", "cardinality": "many"}],
    }


class Credentials:
    """Where API tokens and connectors for test callers come from: the running test's registry."""

    registry: Registry | None = None
    issued: ClassVar[dict[tuple[str, str], str]] = {}
    connectors: ClassVar[dict[tuple[str, str], str]] = {}

    @classmethod
    def use(cls, registry: Registry | None) -> None:
        """Issue tokens from this registry from now on (``None``: none)."""
        cls.registry = registry
        cls.issued.clear()
        cls.connectors.clear()

    @classmethod
    def connector_id(cls, tenant: str, label: str, **changes: Any) -> str:
        """The ``cnn_`` id of a real org-wide connector of the tenant, named ``label``,
        created on first use in a test (schemas must belong to a live connector), with
        ``changes`` to its document (e.g. ``compatibility``) when it is created."""
        key = (tenant, label)
        if key not in cls.connectors:
            assert cls.registry is not None, "use the 'registry' fixture to create connectors"
            access = Access(Actor(subject="test-setup", tenant=tenant), roles=("admin",))
            state = cls.registry.app.create_connector(access, connector_body(label, **changes))
            cls.connectors[key] = state.connector_id
        return cls.connectors[key]

    @classmethod
    def api_token(cls, tenant: str, app_id: str) -> str:
        """An API token of the tenant and application, issued once per test."""
        key = (tenant, app_id)
        if key not in cls.issued:
            assert cls.registry is not None, "use the 'registry' fixture to call the API"
            setup = Actor(subject="test-setup", tenant=tenant)
            _, cls.issued[key] = cls.registry.app.issue_api_token(setup, f"tests {app_id}", app_id)
        return cls.issued[key]


class AuthHeaders(Mapping[str, str]):
    """Both credentials of a caller, made when a request first reads them."""

    def __init__(self, tenant: str, subject: str, email: str | None, roles: tuple[str, ...],
                 app_id: str, groups: tuple[str, ...] = ()) -> None:
        self.identity = (tenant, subject, email, roles, app_id, groups)

    def _headers(self) -> dict[str, str]:
        tenant, subject, email, roles, app_id, groups = self.identity
        jwt = issue_token(SECRET, tenant=tenant, subject=subject, email=email, roles=roles,
                          groups=groups)
        return {"Authorization": f"Bearer {jwt}",
                "X-API-Token": Credentials.api_token(tenant, app_id)}

    def __getitem__(self, key: str) -> str:
        return self._headers()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("Authorization", "X-API-Token"))

    def __len__(self) -> int:
        return 2


def headers(
    tenant: str = "acme", subject: str = "admin-1", email: str | None = "admin@example.com",
    roles: tuple[str, ...] = ("admin",), app_id: str = "test-app",
    groups: tuple[str, ...] = (),
) -> AuthHeaders:
    """Both credentials (bearer JWT and API token) of a caller."""
    return AuthHeaders(tenant, subject, email, roles, app_id, groups)


def content_snapshot(registry: Registry) -> dict[str, Any]:
    """Everything a request could change, except the audit trail and token use times."""
    with registry.db.transaction(write=False) as cur:
        return {
            "schemas": cur.all("SELECT * FROM registry_schemas ORDER BY uuid"),
            "versions": cur.all("SELECT * FROM registry_schema_versions ORDER BY uuid, version"),
            "connectors": cur.all("SELECT * FROM registry_connectors ORDER BY uuid"),
            "connector_versions": cur.all(
                "SELECT * FROM registry_connector_versions ORDER BY uuid, version"),
            "tokens": cur.all("SELECT token_id, revoked_at FROM registry_api_tokens"
                              " ORDER BY token_id"),
        }


def jwt_only(tenant: str = "acme", roles: tuple[str, ...] = ("admin",)) -> dict[str, str]:
    """Only the bearer JWT, no API token."""
    token = issue_token(SECRET, tenant=tenant, subject="admin-1", roles=roles)
    return {"Authorization": f"Bearer {token}"}


AS_ADMIN = Access(ADMIN, roles=("admin",))
"""The tenant admin as the application's commands take a caller."""


def cid(label: str = "connector-uuid", tenant: str = "acme") -> str:
    """The id of the tenant's test connector named ``label`` (see :func:`placed`)."""
    return Credentials.connector_id(tenant, label)
