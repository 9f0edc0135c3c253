"""OpenAPI declarations: every error response is documented as ``application/problem+json``."""

from __future__ import annotations

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from api.errors import PROBLEM_JSON

_DESCRIPTIONS = {
    304: "Not modified",
    400: "Malformed request (e.g. the body is not JSON)",
    401: "Missing, invalid or expired bearer token",
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


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemViolation] | None = None
    existingId: str | None = None
    currentVersion: int | None = None


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for the given error statuses."""
    specs: dict[int, ResponseSpec] = {}
    for status in statuses:
        specs[status] = ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(status, "Error"),
            media_type=PROBLEM_JSON,
        )
    return specs


