"""Auth scheme configs: how a connector authenticates, never with what (seed 003).

A config names a scheme type and carries that scheme's settings (where an API key goes, an
OAuth token URL...); the credential a connection pairs it with holds the secret. Each scheme
type has a strict JSON Schema built with the catalogue's builders, so a structural mistake is
a 422 with a pointer. What the schema cannot say ("scheme oauth2 needs a token URL") is the
server's advice, :func:`validation_messages`: a pure function of the stored config, computed
on every read and never stored or taken from a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jsonschema.protocols import Validator

from domain.connectors.catalogue import checked_validator, schema_violations
from domain.connectors.definition import strict, text, text_list, url

CONFIG_ID = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""An auth scheme config id: chosen by the client, unique within its connector."""
MAX_CONFIGS = 50

CREDENTIAL_TYPES: dict[str, tuple[str, ...]] = {
    "none": ("none",),
    "api-key": ("string", "custom-function"),
    "basic-auth": ("basic-auth",),
    "bearer": ("string", "oauth2-token", "custom-function"),
    "oauth2": ("oauth2-client", "oauth2-code", "oauth2-password", "oauth2-token"),
    "certificate": ("certificate",),
    "jwt-bearer": ("jwt-bearer",),
}
"""Each scheme type, and the credential types that can serve it."""

SCHEME_TYPES = tuple(CREDENTIAL_TYPES)


def _settings() -> dict[str, dict[str, Any]]:
    token_url = url("Token endpoint")
    return {
        "none": {},
        "api-key": {
            "in": {"enum": ["header", "query", "cookie"], "default": "header",
                   "description": "Where the key goes"},
            "name": text("Header, query parameter or cookie carrying the key", max_length=128,
                         pattern="^[A-Za-z0-9_.-]+$"),
        },
        "basic-auth": {},
        "bearer": {
            "headerName": text("Header carrying the token", max_length=128,
                               pattern="^[A-Za-z0-9_-]+$", default="Authorization"),
            "prefix": text("Text before the token", max_length=40, default="Bearer"),
        },
        "oauth2": {
            "grantType": {"enum": ["client-credentials", "authorization-code", "password"],
                          "default": "client-credentials", "description": "OAuth 2 grant"},
            "tokenUrl": token_url,
            "authorizationUrl": url("Authorization endpoint (authorization-code grant)"),
            "scopes": text_list("Scopes to ask for", text("Scope", max_length=512),
                                min_items=0),
        },
        "certificate": {},
        "jwt-bearer": {
            "tokenUrl": token_url,
            "audience": text("Audience (aud) of the assertion", max_length=2048),
        },
    }


def _variant(scheme: str, settings: dict[str, Any]) -> dict[str, Any]:
    properties = {
        "id": text("Chosen by the client; unique within the connector", max_length=64,
                   pattern=CONFIG_ID),
        "schemeType": {"const": scheme},
        "description": {"type": "string", "maxLength": 500,
                        "description": "Tells configurations of one scheme type apart"},
        "validationMessages": {"readOnly": True,
                               "description": "Computed by the server; ignored if sent"},
        **settings,
    }
    return strict(f"AuthSchemeConfig {scheme}", properties, ("id", "schemeType"))


@cache
def auth_scheme_config_schema() -> dict[str, Any]:
    """The JSON Schema 2020-12 document of one auth scheme config (every scheme type)."""
    branches = [
        {"if": {"properties": {"schemeType": {"const": scheme}}, "required": ["schemeType"]},
         "then": _variant(scheme, settings)}
        for scheme, settings in _settings().items()
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:connector-schema-registry:model:AuthSchemeConfig",
        "title": "AuthSchemeConfig", "type": "object", "required": ["id", "schemeType"],
        "properties": {"schemeType": {"enum": list(SCHEME_TYPES),
                                      "description": "How the connector authenticates"}},
        "allOf": branches,
    }


@cache
def _validator() -> Validator:
    return checked_validator(auth_scheme_config_schema())


def parse_auth_scheme_config(document: Any, base: str = "") -> tuple[dict[str, Any], list[Any]]:
    """The config as stored (``validationMessages`` dropped) and its violations, pointers
    under ``base``."""
    if isinstance(document, Mapping):
        document = {k: v for k, v in document.items() if k != "validationMessages"}
    violations = schema_violations(_validator(), document, base)
    return (dict(document) if isinstance(document, Mapping) else {}), violations


def fits(scheme_type: str, credential_type: str | None) -> bool:
    """Whether a credential of ``credential_type`` can serve the scheme."""
    return credential_type in CREDENTIAL_TYPES.get(scheme_type, ())


def validation_messages(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The server's advice about a stored config: ``error`` makes it unusable, ``warning``
    may surprise, ``info`` explains. Computed on every read, from the config alone."""
    scheme = config.get("schemeType")
    found: list[dict[str, Any]] = []
    if scheme == "oauth2":
        if not config.get("tokenUrl"):
            found.append(_message("scheme oauth2 needs a token URL", "error", "tokenUrl"))
        grant = config.get("grantType", "client-credentials")
        if grant == "authorization-code" and not config.get("authorizationUrl"):
            found.append(_message("the authorization-code grant needs an authorization URL",
                                  "error", "authorizationUrl"))
        if not config.get("scopes"):
            found.append(_message("no scopes: the provider grants its default scopes",
                                  "warning", "scopes"))
    elif scheme == "api-key" and not config.get("name"):
        found.append(_message("scheme api-key needs the name of the header, query parameter or"
                              " cookie carrying the key", "error", "name"))
    elif scheme == "jwt-bearer":
        if not config.get("tokenUrl"):
            found.append(_message("scheme jwt-bearer needs a token URL", "error", "tokenUrl"))
        if not config.get("audience"):
            found.append(_message("no audience: the token URL is used as the audience",
                                  "warning", "audience"))
    elif scheme == "none":
        found.append(_message("requests are sent without authentication", "info"))
    types = ", ".join(CREDENTIAL_TYPES.get(str(scheme), ()))
    found.append(_message(f"credentials of type {types} can serve this scheme", "info"))
    return found


def _message(text: str, severity: str, field: str | None = None) -> dict[str, Any]:
    return {"text": text, "severity": severity, "detail": [f"/{field}"] if field else []}


def with_messages(config: Mapping[str, Any]) -> dict[str, Any]:
    """A stored config as clients see it: with its computed ``validationMessages``."""
    return {**config, "validationMessages": validation_messages(config)}
