"""OpenAPI declarations: the document states every constraint the server enforces.

Every error response is documented as ``application/problem+json``; every ``/internal``
operation requires both credentials (``bearerAuth`` and ``apiToken`` together); request bodies
are the model's own JSON Schema documents.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

import msgspec
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)

from api.models import ConnectorOut, CredentialOut, SchemaOut
from api.params import INTERNAL
from api.problems import PROBLEM_JSON
from domain.connectors.catalogue import list_types
from domain.connectors.document import READ_ONLY, connector_document_schema
from domain.credentials.document import READ_ONLY as CREDENTIAL_READ_ONLY
from domain.credentials.document import credential_document_schema
from domain.credentials.types import TYPES as CREDENTIAL_TYPES
from domain.model import TOKEN_REQUEST, model_documents

CATALOGUE_CACHE = "private, max-age=300"
"""``Cache-Control`` of the connector catalogue: fixed per deployment, so worth keeping."""

SECURITY_SCHEMES = {
    "bearerAuth": SecurityScheme(
        type="http", scheme="bearer", bearer_format="JWT",
        description="Who calls: a JWT with `sub`, `tenant`, `exp` and optional `roles`",
    ),
    "apiToken": SecurityScheme(
        type="apiKey", name="X-API-Token", security_scheme_in="header",
        description="Which client application calls: an API token of the JWT's tenant",
    ),
}
BOTH_CREDENTIALS: list[dict[str, list[str]]] = [{"bearerAuth": [], "apiToken": []}]
"""One requirement naming both schemes: both credentials, together, on every request."""

_DESCRIPTIONS = {
    304: "Not modified: If-None-Match names the current version",
    400: "Malformed request (e.g. the body is not JSON)",
    401: "Missing, invalid or expired bearer token or API token",
    403: "None of the caller's roles may call this route",
    404: "Unknown id, or a soft-deleted schema",
    409: "Conflict: the key exists, the schema is not deleted, or a concurrent write won",
    410: "The schema (or this version) was erased",
    412: "If-Match names a stale version",
    413: "The body is larger than 1 MiB",
    415: "The body is not application/json",
    422: "The request breaks the model's rules",
}


class ProblemViolation(msgspec.Struct):
    """One failed rule."""

    pointer: str
    message: str


class ProblemDocument(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemViolation] | None = None
    existingId: str | None = None
    currentVersion: int | None = None
    schemaIds: list[str] | None = None
    usedBy: list[str] | None = None


@dataclass
class RawSchema(Schema):
    """A JSON Schema 2020-12 document embedded as is (OpenAPI 3.1 speaks 2020-12)."""

    raw: dict[str, Any] = field(default_factory=dict)

    def to_schema(self) -> dict[str, Any]:
        return self.raw


def inline_definitions(node: Any, definitions: dict[str, Any]) -> Any:
    """A model document with every ``#/$defs/…`` reference replaced by its definition.

    Tools that read the OpenAPI document resolve ``$ref`` against the OpenAPI root, not the
    embedded document, so the (non-recursive) model is served self-contained.
    """
    if isinstance(node, dict):
        reference = node.get("$ref", "")
        if reference.startswith("#/$defs/"):
            return inline_definitions(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {
            key: inline_definitions(value, definitions)
            for key, value in node.items()
            if key not in ("$schema", "$id", "$defs")
        }
    if isinstance(node, list):
        return [inline_definitions(item, definitions) for item in node]
    return node


def inlined(document: dict[str, Any]) -> Any:
    """A JSON Schema document made self-contained: its own ``$defs`` inlined, no ``$id``."""
    return inline_definitions(document, document.get("$defs", {}))


def json_body_operation(
    document: dict[str, Any], description: str, *, required: tuple[str, ...] = (),
    media_types: tuple[str, ...] = ("application/json",),
) -> type[Operation]:
    """An operation class whose request body is the given JSON Schema document.

    ``required`` names properties this operation requires beyond the document's own;
    ``media_types`` are the content types the body may be sent as.
    """
    raw = inlined(document)
    if required:
        raw["required"] = [*raw.get("required", []), *required]

    @dataclass
    class BodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                required=True,
                description=description,
                content={media_type: OpenAPIMediaType(schema=RawSchema(raw=raw))
                         for media_type in media_types},
            )

    return BodyOperation


_SCHEMA_RULES = (
    " (validated strictly; a body that breaks a rule answers 422). Field names and relationship"
    " names must each be unique within the document."
)
CreateBodyOperation = json_body_operation(
    model_documents()["Schema"],
    "A Schema document with its connectorId; key defaults to entityType" + _SCHEMA_RULES,
    required=("connectorId",),
)
SchemaBodyOperation = json_body_operation(
    model_documents()["Schema"],
    "A Schema document that replaces name, entityType, fields and relationships"
    + _SCHEMA_RULES + " connectorId and key may be omitted; if sent, they must equal the stored"
    " values, which cannot change.",
)
_EDGE = ("\\u0000-\\u0020\\u007f\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
         "\\u205f\\u3000")
NAME_PATTERN = f"^[^{_EDGE}]([^\\u0000-\\u001f\\u007f]*[^{_EDGE}])?$"
"""A connector name as the document states it: no control character, and no character Python's
``str.strip`` removes at either end (the rule ``validate_connector`` checks)."""


def connector_request_document(*, create: bool = False) -> dict[str, Any]:
    """A connector request body, one strict variant per catalogue type.

    The domain's document schema leaves ``config`` and ``credentials`` open and checks them
    against the type's catalogue entry afterwards; here each type's variant embeds its own
    config and credentials schemas, so the document states every rule the server enforces.
    Keys only the server sets (``id``, ``createdBy``, …) are not part of a request.
    """
    base = connector_document_schema()
    properties = {key: value for key, value in base["properties"].items()
                  if key not in READ_ONLY and not (create and key == "authSchemeConfigIds")}
    properties["name"] = {**properties["name"], "pattern": NAME_PATTERN}
    group_rule = {
        "if": {"properties": {"scope": {"const": "group"}}, "required": ["scope"]},
        "then": {"properties": {"groupId": {"type": "string"}}, "required": ["groupId"]},
    }
    variants = []
    for entry in list_types():
        config, credentials = inlined(entry.config_schema), inlined(entry.credentials_schema)
        required = ["name", "type", *(["config"] if config.get("required") else [])]
        variants.append({
            "type": "object", "title": f"{entry.name} connector",
            "properties": {**properties, "type": {"const": entry.type},
                           "config": config, "credentials": credentials},
            "required": required, "additionalProperties": False, **group_rule,
        })
    return {"title": "Connector", "description": base.get("description", ""),
            "oneOf": variants}


ConnectorCreateOperation = json_body_operation(
    connector_request_document(create=True),
    "A new connector: `name` and `type` (a catalogue type), then the type's `config` and"
    " `credentials` as the catalogue states them (validated strictly; a body that breaks a rule"
    " answers 422 with a pointer to each violation). A new connector has no auth scheme configs"
    " to order: add them under `/connectors/{id}/auth-scheme-configs`.",
)
ConnectorBodyOperation = json_body_operation(
    connector_request_document(),
    "A connector document: `name` and `type` (a catalogue type), then the type's `config` and"
    " `credentials` as the catalogue states them (validated strictly; a body that breaks a rule"
    " answers 422 with a pointer to each violation).",
)
def credentials_request_document() -> dict[str, Any]:
    """A credentials rotation body: the credentials of one catalogue type, the connector's.

    The body alone cannot say which type that is, so the document offers every type's
    credentials schema (``anyOf``: two types may take the same credentials) and the server
    checks the body against the connector's own.
    """
    return {"title": "Credentials",
            "anyOf": [{**inlined(entry.credentials_schema), "title": f"{entry.name} credentials"}
                      for entry in list_types()]}


CredentialsBodyOperation = json_body_operation(
    credentials_request_document(),
    "The connector's new credentials, whole: the object its type's `credentialsSchema` states"
    " (`GET /internal/v1/connector-types/{type}`). Validated strictly against that type's"
    " schema; a body that breaks a rule answers 422 with a pointer into this body to each"
    " violation.",
)
ConnectionTestBodyOperation = json_body_operation(
    {"type": "object", "additionalProperties": False, "required": ["config"],
     "properties": {
         "config": {"type": "object", "description": "The config to test: the object the"
                    " type's `configSchema` states"},
         "credentials": {"type": "object", "description": "The credentials to test with: the"
                         " object the type's `credentialsSchema` states"}}},
    "Unsaved config and credentials of the path's connector type, validated against the"
    " type's schemas like a connector's (a violation answers 400 with a pointer into this"
    " body); nothing is stored.",
)
ConnectorPatchOperation = json_body_operation(
    {"type": "object", "description": "RFC 7396 merge patch"},
    "An RFC 7396 merge patch applied to the connector's current document; the result is"
    " validated like a PUT body. `credentials`, if sent, replace the stored ones whole.",
    media_types=("application/merge-patch+json", "application/json"),
)


def credential_request_document(*, data_required: bool = True) -> dict[str, Any]:
    """A credential request body, one strict variant per credential type, each embedding
    its type's ``data`` schema, so the document states every rule the server enforces."""
    base = credential_document_schema()
    properties = {key: value for key, value in base["properties"].items()
                  if key not in CREDENTIAL_READ_ONLY}
    properties["name"] = {**properties["name"], "pattern": NAME_PATTERN}
    required = ["name", "type", *(["data"] if data_required else [])]
    variants = [
        {"type": "object", "title": f"{entry.type} credential",
         "description": entry.description,
         "properties": {**properties, "type": {"const": entry.type},
                        "data": inlined(entry.data_schema)},
         "required": required, "additionalProperties": False}
        for entry in CREDENTIAL_TYPES
    ]
    return {"title": "Credential", "oneOf": variants}


CredentialCreateOperation = json_body_operation(
    credential_request_document(),
    "A credential: `name`, `type` and the type's `data` (write-only: never shown again),"
    " optionally `expiresAt`. Validated strictly; a body that breaks a rule answers 422 with"
    " a pointer to each violation, never a value.",
)
CredentialReplaceOperation = json_body_operation(
    credential_request_document(data_required=False),
    "The whole credential: fields left out return to unset (`expiresAt`: never). `data` left"
    " out keeps the current data; sent, it replaces it (a rotation). The type cannot change.",
)
CredentialPatchOperation = json_body_operation(
    {"type": "object", "description": "RFC 7396 merge patch"},
    "An RFC 7396 merge patch applied to the credential's current document; the result is"
    " validated like a PUT body. `data`, if sent, replaces the stored data whole (a rotation).",
    media_types=("application/merge-patch+json", "application/json"),
)
TokenBodyOperation = json_body_operation(TOKEN_REQUEST, "The new token's name and application id")


def schema_responses(*, not_modified: bool = False) -> dict[int, ResponseSpec]:
    """The 200 of a handler that answers a schema document as pre-encoded bytes (and 304)."""
    specs = {200: ResponseSpec(data_container=SchemaOut, description="The schema document",
                               generate_examples=False)}
    if not_modified:
        specs[304] = ResponseSpec(data_container=None, description=_DESCRIPTIONS[304])
    return specs


def entity_responses(container: type[Any], description: str, *,
                     not_modified: bool = False) -> dict[int, ResponseSpec]:
    """The 200 of a handler that answers a ``container`` document as a ``Response`` (and a
    304 when ``not_modified``)."""
    specs = {200: ResponseSpec(data_container=container, description=description,
                               generate_examples=False)}
    if not_modified:
        specs[304] = ResponseSpec(data_container=None, description=_DESCRIPTIONS[304])
    return specs


def connector_responses(*, not_modified: bool = False) -> dict[int, ResponseSpec]:
    """The 200 of a handler that answers a connector document as a ``Response`` (and 304)."""
    return entity_responses(ConnectorOut, "The connector", not_modified=not_modified)


def credential_responses(*, not_modified: bool = False) -> dict[int, ResponseSpec]:
    """The 200 of a handler that answers a credential document (never its data), and 304."""
    return entity_responses(CredentialOut, "The credential, without its data",
                            not_modified=not_modified)


def encoded_responses(container: type[Any], description: str) -> dict[int, ResponseSpec]:
    """The 200 (and 304) of a handler that answers a pre-encoded ``container`` body."""
    return {
        200: ResponseSpec(data_container=container, description=description,
                          generate_examples=False),
        304: ResponseSpec(data_container=None, description="Not modified: If-None-Match names"
                          " the current entity tag"),
    }


_ETAG = OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING, pattern='^"[0-9a-f]{32}"$'),
                      description="Strong entity tag: a hash of the body", required=True)
_PRIVATE_CACHE = OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING, const=CATALOGUE_CACHE),
                               description="Clients may keep the body five minutes",
                               required=True)


@dataclass
class CachedOperation(Operation):
    """An operation whose 200 and 304 carry ``ETag`` and ``Cache-Control``.

    A response spec replaces the generated success response, headers included, so the headers
    are added to the finished responses here.
    """

    def __post_init__(self) -> None:
        for status in ("200", "304"):
            response = (self.responses or {}).get(status)
            if isinstance(response, OpenAPIResponse):
                response.headers = {"ETag": _ETAG, "Cache-Control": _PRIVATE_CACHE}


@dataclass
class HtmlAlternativeOperation(Operation):
    """An operation whose 200 is also offered as ``text/html`` (``Accept: text/html``)."""

    def __post_init__(self) -> None:
        response = (self.responses or {}).get("200")
        if isinstance(response, OpenAPIResponse) and response.content is not None:
            response.content["text/html"] = OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.STRING,
                description="A complete HTML document of the page; every value a user chose"
                            " is escaped, and the page loads and runs nothing"))


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for the given error statuses."""
    specs: dict[int, ResponseSpec] = {}
    for status in statuses:
        specs |= problem(status, _DESCRIPTIONS.get(status, "Error"))
    return specs


def problem(status: int, description: str) -> dict[int, ResponseSpec]:
    """The response spec of one error status, described for the route that answers it."""
    return {status: ResponseSpec(data_container=ProblemDocument, description=description,
                                 media_type=PROBLEM_JSON, generate_examples=False)}




def finish(document: dict[str, Any]) -> dict[str, Any]:
    """The generated document with what the handlers' declarations cannot say themselves.

    - every ``/internal`` operation requires both credentials (the access middleware checks
      them on exactly those routes), and nothing else does;
    - an optional parameter is either sent or absent, never ``null``;
    - parameter errors are 422 problems, so the framework's default 400 (a plain JSON
      ``ValidationException``, which this server never sends) is dropped.
    """
    document = copy.deepcopy(document)
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if path.startswith(INTERNAL + "/"):
                operation["security"] = copy.deepcopy(BOTH_CREDENTIALS)
            else:
                operation.pop("security", None)
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _not_null(parameter.get("schema", {}))
            responses = operation["responses"]
            if "400" in responses and PROBLEM_JSON not in responses["400"].get("content", {}):
                del responses["400"]
    return document


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    variants = schema.get("oneOf")
    if not isinstance(variants, list):
        return schema
    kept = [v for v in variants if v != {"type": "null"}]
    if len(kept) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key != "oneOf"}
    return {**kept[0], **rest}


@dataclass
class _Document(OpenAPI):
    """The OpenAPI object whose JSON form is :func:`finish`-ed."""

    def to_schema(self) -> dict[str, Any]:
        return finish(super().to_schema())


@dataclass
class RegistryOpenAPIConfig(OpenAPIConfig):
    """Litestar's OpenAPI configuration, serving the :func:`finish`-ed document."""

    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        return _Document(**{f.name: getattr(base, f.name) for f in fields(base)})


def openapi_config() -> OpenAPIConfig:
    """The JSON document at ``/schema/openapi.json``, Swagger UI at ``/schema``."""
    return RegistryOpenAPIConfig(
        title="Connector Schema Registry",
        version="1.0.0",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin()],
        components=Components(security_schemes=dict(SECURITY_SCHEMES)),
    )
