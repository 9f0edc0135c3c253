"""What a connector type is, and the small builders its JSON Schema documents are written with.

The catalogue is code, not data a user can edit: each type's config and credentials schemas
are built here from a few builders so that every type gets the same strictness (no unknown
keys, bounded strings, secrets marked ``writeOnly``) without repeating it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]*$"
IDENTIFIER = "^[A-Za-z_][A-Za-z0-9_]{0,63}$"
HTTPS_URL = "^https://"
HTTP_URL = "^https?://"
MAX_TEXT = 2000
MAX_SECRET = 8192


class Mode(StrEnum):
    """What kind of system a connector reads: files, a database, or an API."""

    FILE_SYSTEM = "FILE_SYSTEM"
    DATABASE = "DATABASE"
    API = "API"


@dataclass(frozen=True)
class ConnectorType:
    """One entry of the catalogue: how a type is named, reached and configured."""

    type: str
    name: str
    description: str
    mode: Mode
    protocol: str
    auth_types: tuple[str, ...]
    config_schema: dict[str, Any]
    credentials_schema: dict[str, Any]
    oauth: bool = False
    oauth_scopes: tuple[str, ...] = field(default=())

    @property
    def default_auth_type(self) -> str:
        """The auth type of a connector whose credentials do not name one."""
        return self.auth_types[0]

    def to_document(self) -> dict[str, Any]:
        """The type as the API lists it (camelCase keys, schemas included)."""
        return {
            "type": self.type,
            "name": self.name,
            "description": self.description,
            "mode": self.mode.value,
            "protocol": self.protocol,
            "authTypes": list(self.auth_types),
            "oauth": self.oauth,
            "oauthScopes": list(self.oauth_scopes),
            "configSchema": self.config_schema,
            "credentialsSchema": self.credentials_schema,
        }


def text(description: str, *, max_length: int = 255, pattern: str = NO_CONTROL,
         **extra: Any) -> dict[str, Any]:
    """A bounded, control-character-free string."""
    return {"type": "string", "description": description, "minLength": 1,
            "maxLength": max_length, "pattern": pattern, **extra}


def secret(description: str, **extra: Any) -> dict[str, Any]:
    """A secret string: accepted on write, never shown on read (``writeOnly``)."""
    return {"type": "string", "description": description, "minLength": 1,
            "maxLength": MAX_SECRET, "pattern": NO_CONTROL, "writeOnly": True, **extra}


def url(description: str, *, pattern: str = HTTPS_URL) -> dict[str, Any]:
    """An absolute URL; HTTPS only unless the pattern says otherwise."""
    return {"type": "string", "description": description, "format": "uri",
            "maxLength": 2048, "pattern": pattern}


def text_list(description: str, item: dict[str, Any], *, min_items: int = 1,
              max_items: int = 500) -> dict[str, Any]:
    """A list of distinct strings."""
    return {"type": "array", "description": description, "items": item,
            "minItems": min_items, "maxItems": max_items, "uniqueItems": True}


def strict(title: str, properties: dict[str, Any], required: tuple[str, ...] = (),
           **extra: Any) -> dict[str, Any]:
    """An object with exactly these properties: unknown keys are refused."""
    return {"title": title, "type": "object", "additionalProperties": False,
            "required": list(required), "properties": properties, **extra}


def document(title: str, body: dict[str, Any]) -> dict[str, Any]:
    """A standalone JSON Schema 2020-12 document with a stable ``$id``."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:connector-schema-registry:connector-type:{title}", **body}


def oauth_token_credentials(title: str, *, auth_type: str | None = None) -> dict[str, Any]:
    """The tokens an OAuth flow leaves behind; the flow itself happens outside the registry."""
    properties: dict[str, Any] = {
        "accessToken": secret("OAuth access token"),
        "refreshToken": secret("OAuth refresh token"),
        "expiresAt": {"type": "string", "format": "date-time",
                      "description": "When the access token expires"},
        "tokenType": text("Token type, usually Bearer", max_length=40),
        "scope": text("Scopes the provider granted, space-separated", max_length=MAX_TEXT),
    }
    return _variant(title, properties, ("accessToken",), auth_type)


def _variant(title: str, properties: dict[str, Any], required: tuple[str, ...],
             auth_type: str | None) -> dict[str, Any]:
    if auth_type is None:
        return strict(title, properties, required)
    tagged = {"authType": {"const": auth_type}, **properties}
    return strict(title, tagged, ("authType", *required))


def credential_variants(title: str, variants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Credentials of a type with several auth types, told apart by ``authType``.

    Each variant is a strict object whose ``authType`` is a constant; ``if``/``then`` picks
    the one variant that applies, so a violation points into the object the caller sent
    instead of drowning in the failures of every alternative (as ``oneOf`` would).
    """
    branches = [
        {"if": {"properties": {"authType": {"const": name}}, "required": ["authType"]},
         "then": body}
        for name, body in variants.items()
    ]
    return {
        "title": title,
        "type": "object",
        "required": ["authType"],
        "properties": {"authType": {"enum": list(variants),
                                    "description": "Which kind of credentials these are"}},
        "allOf": branches,
    }


def variant(title: str, auth_type: str, properties: dict[str, Any],
            required: tuple[str, ...] = ()) -> dict[str, Any]:
    """One strict credentials variant, tagged with its ``authType``."""
    return _variant(title, properties, required, auth_type)
