"""The connector document a client sends (create, PUT, the result of a PATCH) and its rules.

Validation happens in two steps: the document's own shape, then its ``config`` and
``credentials`` against the catalogue entry of its ``type``, so every violation carries a
pointer into the document the client sent (``/config/bucket``, ``/credentials/...``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema.protocols import Validator

from domain.connectors.catalogue import (
    CATALOGUE,
    auth_type_of,
    checked_validator,
    get_type,
    schema_violations,
    validate_config,
    validate_credentials,
)
from domain.connectors.definition import NO_CONTROL, strict, text, text_list, url
from domain.connectors.errors import ConnectorValidationError
from domain.connectors.state import SCOPES, SOURCE_TYPES, UNSET
from domain.connectors.variables import connection_variables_schema, duplicate_names
from domain.errors import Violation
from domain.model import COMPATIBILITY_MODES, SLUG

MAX_NAME = 200
MAX_TAGS = 50
TAG_KEY = "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,62}$"
READ_ONLY = (
    "id", "uuid", "tenantId", "appId", "version", "status", "protocol", "baseUrl",
    "authSchemeConfigs", "connections", "authType", "credentialId", "credentialFields",
    "credentialsSet", "schemas",
    "createdAt", "createdBy", "updatedAt", "updatedBy", "deleted", "deletedAt", "deletedBy",
    "syncStatus", "lastSyncAt", "consecutiveErrors", "lastError", "metrics",
    "oauthRefreshNeeded", "oauthTokenExpiresAt", "credentialLastRotatedAt", "nextRotationDue",
    "schemaVersion", "schemaCount", "lastTestedAt", "lastTest",
)
"""Keys a client may send back from a GET; they are ignored, never an error."""


@dataclass(frozen=True)
class ConnectorInput:
    """A valid connector document, split into its editable fields and its credentials."""

    fields: dict[str, Any]
    """Every editable field (absent ones at their unset value), camelCase, no credentials."""
    credentials: dict[str, Any] | None
    """The credentials sent with the document; ``None`` keeps the current ones."""
    auth_type: str | None
    """The auth type of those credentials; ``None`` when none were sent."""


def _tags() -> dict[str, Any]:
    return {"type": "object", "maxProperties": MAX_TAGS,
            "propertyNames": {"pattern": TAG_KEY},
            "additionalProperties": {"type": "string", "maxLength": 256, "pattern": NO_CONTROL},
            "description": "Free-form key/value tags"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _properties() -> dict[str, Any]:
    nullable_text = _nullable(text("", max_length=255))
    return {
        "name": text("Connector name, unique in the tenant", max_length=MAX_NAME),
        "type": {"enum": [entry.type for entry in CATALOGUE], "description": "Catalogue type"},
        "collection": _nullable({"type": "string", "pattern": SLUG}),
        "provider": nullable_text, "groupId": nullable_text, "userId": nullable_text,
        "ownerId": text("Subject of the owning user", max_length=255),
        "webhookEndpointId": nullable_text,
        "vaultPath": _nullable(text("KV v2 path of the secrets", pattern="^secret/")),
        "source": text("Provenance tag", max_length=64),
        "sourceType": {"enum": list(SOURCE_TYPES)},
        "scope": {"enum": list(SCOPES), "description": "org, user or group"},
        "enabled": {"type": "boolean"}, "sharedToOrg": {"type": "boolean"},
        "compatibility": {"enum": list(COMPATIBILITY_MODES),
                          "description": "The compatibility mode of its schemas that set"
                          " none of their own (default BACKWARD)"},
        "public": {"type": "boolean"},
        "sharedUsers": text_list("Users it is shared with", text("Subject"), min_items=0),
        "eventTypes": text_list("Event types it emits", text("Event type"), min_items=0),
        "documentationURL": _nullable(url("Documentation of the API")),
        "imageURL": _nullable(url("Icon")),
        "applicationId": _nullable({"type": "string", "format": "uuid",
                                    "description": "Owning application (a UUID)"}),
        "rotationDays": {"type": ["integer", "null"], "minimum": 1, "maximum": 3650},
        "tags": _tags(),
        "connectionVariables": _nullable(connection_variables_schema()),
        "authSchemeConfigIds": {
            "type": ["array", "null"], "items": {"type": "string"}, "uniqueItems": True,
            "description": "The connector's auth scheme config ids in a new order (exactly"
                           " the existing ones); omitted or null: the order is kept"},
        "config": {"type": "object", "description": "Per type: see the catalogue"},
        "credentials": {"type": "object", "writeOnly": True,
                        "description": "Per type: see the catalogue"},
        **{key: {"readOnly": True} for key in READ_ONLY},
    }


@cache
def connector_document_schema() -> dict[str, Any]:
    """The JSON Schema 2020-12 document of a connector request body."""
    body = strict("Connector", _properties(), ("name", "type"))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:connector-schema-registry:model:Connector", **body}


@cache
def _validator() -> Validator:
    return checked_validator(connector_document_schema())


def validate_connector(document: Any) -> list[Violation]:
    """Every rule a connector document breaks, its config and credentials included."""
    violations = schema_violations(_validator(), document)
    if violations:
        return violations
    type_name = document["type"]
    found = validate_config(type_name, document.get("config", {}))
    if "credentials" in document:
        found += validate_credentials(type_name, document["credentials"])
    if document.get("scope") == "group" and not document.get("groupId"):
        found.append(Violation("/groupId", "required when scope is group"))
    if document["name"] != document["name"].strip() or not document["name"].strip():
        found.append(Violation("/name", "must not start or end with whitespace"))
    variables = document.get("connectionVariables") or []
    found += [Violation(p, m) for p, m in duplicate_names(variables, "/connectionVariables")]
    return found


def parse_connector(document: Any) -> ConnectorInput:
    """Validate a connector document and split it, or raise ConnectorValidationError."""
    violations = validate_connector(document)
    if violations:
        raise ConnectorValidationError(violations)
    fields = copy.deepcopy({key: document.get(key, UNSET.get(key)) for key in _editable_keys()})
    credentials = copy.deepcopy(document.get("credentials"))
    entry = get_type(document["type"])
    assert entry is not None
    auth_type = None if credentials is None else auth_type_of(entry, credentials)
    return ConnectorInput(fields, credentials, auth_type)


def _editable_keys() -> tuple[str, ...]:
    return tuple(key for key in _properties() if key not in READ_ONLY and key != "credentials")


def server_stamped(document: Any) -> list[Violation]:
    """A violation for each key of a new document that only the server sets (a create has
    nothing to echo back, so such a key is a mistake, not a round trip)."""
    if not isinstance(document, Mapping):
        return []
    return [Violation(f"/{key}", "set by the server; do not send it")
            for key in document if key in READ_ONLY]


def without_read_only(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document minus the keys a client may echo back but never sets."""
    return {key: value for key, value in document.items() if key not in READ_ONLY}
