"""OpenAPI declarations: every error response is documented as ``application/problem+json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema

from api.problems import PROBLEM_JSON
from domain.model import TOKEN_REQUEST, model_documents

_DESCRIPTIONS = {
    304: "Not modified",
    400: "Malformed request (e.g. the body is not JSON)",
    401: "Missing, invalid or expired bearer token or API token",
    403: "None of the caller's roles may call this route",
    404: "Unknown id, or a soft-deleted schema",
    409: "Conflict: the key exists, or a concurrent write won",
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


def json_body_operation(document: dict[str, Any], description: str) -> type[Operation]:
    """An operation class whose request body is the given JSON Schema document."""
    raw = inline_definitions(document, document.get("$defs", {}))

    @dataclass
    class BodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                required=True,
                description=description,
                content={"application/json": OpenAPIMediaType(schema=RawSchema(raw=raw))},
            )

    return BodyOperation


SchemaBodyOperation = json_body_operation(
    model_documents()["Schema"], "A Schema document (validated strictly; wrong types answer 422)"
)
TokenBodyOperation = json_body_operation(TOKEN_REQUEST, "The new token's name and application id")


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for the given error statuses."""
    specs: dict[int, ResponseSpec] = {}
    for status in statuses:
        specs[status] = ResponseSpec(
            data_container=ProblemDocument,
            description=_DESCRIPTIONS.get(status, "Error"),
            media_type=PROBLEM_JSON,
        )
    return specs


