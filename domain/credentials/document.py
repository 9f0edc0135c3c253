"""The credential document a client sends (create, PUT, the result of a PATCH) and its rules.

Validation happens in two steps, as for connectors: the document's own shape, then its
``data`` against the schema of its ``type``, so every violation points into the document the
client sent (``/data/password``) and none echoes a value.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jsonschema.protocols import Validator

from domain.common import iso_timestamp
from domain.connectors.catalogue import checked_validator, schema_violations
from domain.connectors.definition import strict, text
from domain.credentials.errors import CredentialValidationError
from domain.credentials.types import TYPE_NAMES, TYPES, validate_data, without_values
from domain.errors import Violation

MAX_NAME = 200
READ_ONLY = (
    "id", "uuid", "tenant", "appId", "version", "status", "dataFields", "dataSet", "errors",
    "usages", "connectorId", "rotatedAt", "createdAt", "createdBy", "updatedAt", "updatedBy",
    "deleted", "deletedAt", "deletedBy",
)
"""Keys a client may send back from a GET (ignored on PUT and PATCH, 422 on create)."""


@dataclass(frozen=True)
class CredentialInput:
    """A valid credential document: its editable fields, and its data when sent."""

    name: str
    type: str
    expires_at: str | None
    """RFC 3339 in UTC (``Z``, microseconds), or ``None``: never expires."""
    data: dict[str, Any] | None
    """The data sent; ``None`` keeps the current data (PUT only)."""

    def editable(self) -> dict[str, Any]:
        """The document's editable fields, as ``CredentialState.editable`` gives them."""
        return {"name": self.name, "type": self.type, "expiresAt": self.expires_at}


def _properties() -> dict[str, Any]:
    return {
        "name": text("Credential name", max_length=MAX_NAME),
        "type": {"enum": list(TYPE_NAMES), "description": "Credential type"},
        "expiresAt": {"type": ["string", "null"], "format": "date-time",
                      "description": "When it expires (RFC 3339); null: never"},
        "data": {"type": "object", "writeOnly": True,
                 "description": "Per type: see the credential types; never shown"},
        **{key: {"readOnly": True} for key in READ_ONLY},
    }


@cache
def credential_document_schema() -> dict[str, Any]:
    """The JSON Schema 2020-12 document of a credential request body."""
    body = strict("Credential", _properties(), ("name", "type"))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:connector-schema-registry:model:Credential", **body}


@cache
def _validator() -> Validator:
    return checked_validator(credential_document_schema())


def parse_credential(document: Any, *, data_required: bool) -> CredentialInput:
    """Validate a credential document, or raise CredentialValidationError."""
    found = schema_violations(_validator(), document, multiline=_MULTILINE)
    if not found:
        found = _rules(document, data_required)
    if found:
        data = document.get("data") if isinstance(document, Mapping) else None
        raise CredentialValidationError(without_values(found, data))
    data = document.get("data")
    return CredentialInput(document["name"], document["type"],
                           _normalised(document.get("expiresAt")),
                           None if data is None else copy.deepcopy(data))


_MULTILINE = frozenset(f"/data/{name}" for entry in TYPES for name in entry.multiline)
"""Data fields that may end with a newline in some type; ``validate_data`` decides per type."""


def _rules(document: Mapping[str, Any], data_required: bool) -> list[Violation]:
    found: list[Violation] = []
    if "data" in document:
        found += validate_data(document["type"], document["data"])
    elif data_required:
        found.append(Violation("/data", "required"))
    name = document["name"]
    if name != name.strip() or not name.strip():
        found.append(Violation("/name", "must not start or end with whitespace"))
    expires = document.get("expiresAt")
    if expires is not None and _parsed(expires) is None:
        found.append(Violation("/expiresAt", "must be an RFC 3339 date-time with an offset"))
    return found


def _parsed(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return None if moment.tzinfo is None else moment


def _normalised(value: str | None) -> str | None:
    return None if value is None else iso_timestamp(_parsed(value))


def server_stamped(document: Any) -> list[Violation]:
    """A violation for each key of a new document that only the server sets."""
    if not isinstance(document, Mapping):
        return []
    return [Violation(f"/{key}", "set by the server; do not send it")
            for key in document if key in READ_ONLY]


def without_read_only(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document minus the keys a client may echo back but never sets."""
    return {key: value for key, value in document.items() if key not in READ_ONLY}
