"""The eleven credential types and the strict JSON Schema 2020-12 of each one's ``data``.

Built with the connector catalogue's builders (``domain.connectors.definition``), so a
credential's data is as strict as a connector's credentials: no unknown keys, bounded strings,
every secret marked ``writeOnly``. Each document is checked against the metaschema once and
turned into one reusable validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema.protocols import Validator

from domain.connectors.catalogue import checked_validator, schema_violations
from domain.connectors.definition import IDENTIFIER, MAX_SECRET, secret, strict, text, url
from domain.errors import Violation

BASE64 = "^[A-Za-z0-9+/]*={0,2}$"
PEM_CERTIFICATE = "^-----BEGIN CERTIFICATE-----[\\s\\S]+-----END CERTIFICATE-----\\s*$"
PEM_PRIVATE_KEY = ("^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----[\\s\\S]+"
                   "-----END ([A-Z]+ )?PRIVATE KEY-----\\s*$")
JWT_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384",
                  "PS512", "EdDSA")


@dataclass(frozen=True)
class CredentialType:
    """One credential type: its name, what it is for, and the schema of its ``data``."""

    type: str
    description: str
    data_schema: dict[str, Any]
    multiline: tuple[str, ...] = ()
    """Data fields whose value may span lines (PEM blocks), trailing newline included."""

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field ``data`` may hold."""
        return tuple(self.data_schema["properties"])

    @property
    def required(self) -> tuple[str, ...]:
        """The fields ``data`` must hold."""
        return tuple(self.data_schema["required"])

    @property
    def secrets(self) -> tuple[str, ...]:
        """The fields that are secret (``writeOnly``). A public part (a certificate) is not
        marked, but no data field is ever shown anyway: all of ``data`` is write-only."""
        return tuple(name for name, schema in self.data_schema["properties"].items()
                     if schema.get("writeOnly"))


def _pem(description: str, pattern: str, *, secret: bool = True) -> dict[str, Any]:
    return {"type": "string", "description": description, "minLength": 1,
            "maxLength": MAX_SECRET, "pattern": pattern, "writeOnly": secret}


def _scopes() -> dict[str, Any]:
    return {"type": "array", "description": "Scopes to ask for", "maxItems": 100,
            "uniqueItems": True, "items": text("Scope", max_length=255)}


def _type(name: str, description: str, properties: dict[str, Any],
          required: tuple[str, ...] = (), multiline: tuple[str, ...] = ()) -> CredentialType:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": f"urn:connector-schema-registry:credential-type:{name}",
              **strict(f"{name} credential data", properties, required)}
    return CredentialType(name, description, schema, multiline)


_CLIENT = {"clientId": text("OAuth client id"), "clientSecret": secret("OAuth client secret")}

TYPES: tuple[CredentialType, ...] = (
    _type("none", "No credential: a placeholder for systems that need none", {}),
    _type("string", "One secret string (an API key)", {"value": secret("The secret")},
          ("value",)),
    _type("binary", "Secret bytes, base64-encoded",
          {"base64": {**secret("The bytes, base64"), "pattern": BASE64,
                      "contentEncoding": "base64"}}, ("base64",)),
    _type("basic-auth", "HTTP Basic authentication",
          {"username": text("User name"), "password": secret("Password")},
          ("username", "password")),
    _type("oauth2-client", "OAuth 2.0 client credentials grant",
          {**_CLIENT, "tokenUrl": url("Token endpoint"), "scopes": _scopes()},
          ("clientId", "clientSecret", "tokenUrl")),
    _type("oauth2-code", "OAuth 2.0 authorization code grant",
          {**_CLIENT, "authorizationUrl": url("Authorization endpoint"),
           "tokenUrl": url("Token endpoint"), "redirectUri": url("Redirect URI"),
           "scopes": _scopes(), "refreshToken": secret("Refresh token from the grant")},
          ("clientId", "clientSecret", "authorizationUrl", "tokenUrl")),
    _type("oauth2-password", "OAuth 2.0 resource owner password grant",
          {**_CLIENT, "tokenUrl": url("Token endpoint"), "username": text("User name"),
           "password": secret("Password"), "scopes": _scopes()},
          ("clientId", "tokenUrl", "username", "password")),
    _type("oauth2-token", "OAuth 2.0 tokens obtained elsewhere",
          {"accessToken": secret("Access token"), "refreshToken": secret("Refresh token"),
           "expiresAt": {"type": "string", "format": "date-time",
                         "description": "When the access token expires"},
           "tokenType": text("Token type, usually Bearer", max_length=40)},
          ("accessToken",)),
    _type("custom-function", "A function registered with the platform, and its arguments",
          {"name": text("The function's registered name", max_length=64, pattern=IDENTIFIER),
           "parameters": {"type": "object", "description": "Its arguments, all secret",
                          "maxProperties": 50, "propertyNames": {"pattern": IDENTIFIER},
                          "additionalProperties": secret("An argument"), "writeOnly": True}},
          ("name",)),
    _type("certificate", "A client certificate and its private key (PEM)",
          {"certificate": _pem("Certificate, PEM", PEM_CERTIFICATE, secret=False),
           "privateKey": _pem("Private key, PEM", PEM_PRIVATE_KEY),
           "passphrase": secret("Passphrase of the private key")},
          ("certificate", "privateKey"), multiline=("certificate", "privateKey")),
    _type("jwt-bearer", "JWT bearer assertion (RFC 7523), signed with a private key",
          {"issuer": text("iss claim"), "subject": text("sub claim"),
           "audience": text("aud claim", max_length=2048),
           "privateKey": _pem("Signing key, PEM", PEM_PRIVATE_KEY),
           "algorithm": {"enum": list(JWT_ALGORITHMS), "description": "Signing algorithm"}},
          ("issuer", "subject", "audience", "privateKey", "algorithm"),
          multiline=("privateKey",)),
)
_BY_TYPE = {entry.type: entry for entry in TYPES}
TYPE_NAMES = tuple(_BY_TYPE)


def get_credential_type(name: str) -> CredentialType | None:
    """The type called ``name``; ``None`` when there is none."""
    return _BY_TYPE.get(name)


@cache
def _validator(name: str) -> Validator:
    return checked_validator(_BY_TYPE[name].data_schema)


def validate_data(type_name: str, data: Any, base: str = "/data") -> list[Violation]:
    """Every rule ``data`` breaks as the data of a ``type_name`` credential, pointers under
    ``base``; a violation never echoes a value."""
    entry = _BY_TYPE.get(type_name)
    if entry is None:
        return [Violation("/type", "unknown credential type")]
    found = schema_violations(_validator(type_name), data, base,
                              multiline=[f"{base}/{name}" for name in entry.multiline])
    return without_values(found, data, base)


def without_values(violations: list[Violation], data: Any,
                   base: str = "/data") -> list[Violation]:
    """The violations, those under ``base`` without the value they are about.

    jsonschema starts a message with the failing instance (``'hunter2' is too short``); a
    message about data names the rule it breaks, never what was sent.
    """
    leaves = sorted({repr(value) for value in _leaves(data)}, key=len, reverse=True)
    return [Violation(v.pointer, _scrubbed(v.message, leaves))
            if v.pointer.startswith(base) else v for v in violations]


def _scrubbed(message: str, leaves: list[str]) -> str:
    for shown in leaves:
        if message.startswith(shown):
            return "the value" + message[len(shown):]
    return message


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(leaf for item in value.values() for leaf in _leaves(item))]
    if isinstance(value, list):
        return [value, *(leaf for item in value for leaf in _leaves(item))]
    return [value]
