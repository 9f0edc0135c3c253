"""Named test schemas and helpers shared by every test layer."""

from __future__ import annotations

import copy
from typing import Any

from domain.schema import Actor
from registry.auth import issue_token

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
        "connectorId": f"conn-{marker}",
        "entityType": "account",
        "key": f"key-{marker}",
        "fields": [
            {"name": f"id_{marker}", "type": "string", "primary": True,
             "description": f"primary key {marker}"},
            {"name": f"value_{marker}", "type": "json", "description": f"payload {marker}"},
        ],
        "relationships": [{"name": f"rel_{marker}", "target": "group", "cardinality": "many"}],
    }


def headers(
    tenant: str = "acme", subject: str = "admin-1", email: str | None = "admin@example.com",
    roles: tuple[str, ...] = ("admin",),
) -> dict[str, str]:
    """Authorization headers for a caller."""
    token = issue_token(SECRET, tenant=tenant, subject=subject, email=email, roles=roles)
    return {"Authorization": f"Bearer {token}"}
