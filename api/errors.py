"""The one mapping from errors to RFC 9457 ``application/problem+json`` responses."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from domain.errors import (
    ConcurrentWriteError,
    RegistryError,
    SchemaAlreadyExistsError,
    SchemaDeletedError,
    SchemaErasedError,
    SchemaNotDeletedError,
    SchemaNotFoundError,
    SchemaValidationError,
    SchemaVersionNotFoundError,
    StaleVersionError,
    Violation,
)
from domain.tokens import TokenNotFoundError, TokenRevokedError
from registry.auth import AuthenticationError

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://connector-schema-registry.dev/problems/"
log = logging.getLogger("registry.api")

# error class -> (status, problem type slug, title)
_MAPPING: dict[type[RegistryError], tuple[int, str, str]] = {
    SchemaValidationError: (422, "validation-failed", "The request is not valid"),
    SchemaNotFoundError: (404, "schema-not-found", "Schema not found"),
    SchemaVersionNotFoundError: (404, "version-not-found", "Schema version not found"),
    SchemaDeletedError: (404, "schema-deleted", "Schema was deleted"),
    SchemaErasedError: (410, "schema-erased", "Schema was erased"),
    SchemaAlreadyExistsError: (409, "schema-exists", "Schema already exists"),
    SchemaNotDeletedError: (409, "schema-not-deleted", "Schema is not deleted"),
    ConcurrentWriteError: (409, "concurrent-write", "Concurrent modification"),
    StaleVersionError: (412, "stale-version", "Precondition failed: stale version"),
    AuthenticationError: (401, "unauthenticated", "Authentication required"),
}

_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}


class PermissionDeniedError(RegistryError):
    """The caller is authenticated but none of its roles allows this route."""


class BadRequestError(RegistryError):
    """The request is malformed (e.g. its body is not JSON)."""


class UnsupportedMediaTypeError(RegistryError):
    """The request body is not ``application/json``."""


class QueryValidationError(SchemaValidationError):
    """A query or path parameter has a value the API cannot use."""


_MAPPING[BadRequestError] = (400, "malformed-request", "Malformed request")
_MAPPING[UnsupportedMediaTypeError] = (415, "unsupported-media-type", "Unsupported media type")
_MAPPING[QueryValidationError] = (422, "invalid-parameter", "Invalid parameter")
_MAPPING[PermissionDeniedError] = (403, "forbidden", "Forbidden")
_MAPPING[TokenNotFoundError] = (404, "api-token-not-found", "API token not found")
_MAPPING[TokenRevokedError] = (409, "api-token-revoked", "API token already revoked")


def status_for(error: BaseException) -> int:
    """The HTTP status an error is answered with."""
    if isinstance(error, HTTPException):
        return 400 if isinstance(error, ValidationException) else error.status_code
    for cls in type(error).__mro__:
        if cls in _MAPPING:
            return _MAPPING[cls][0]
    return 500


def problem(
    status: int, slug: str, title: str, detail: str, **extra: Any
) -> Response[dict[str, Any]]:
    """An RFC 9457 problem response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="registry"'} if status == 401 else None
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _violations(violations: list[Violation]) -> list[dict[str, str]]:
    return [{"pointer": v.pointer, "message": v.message} for v in violations]


def registry_error(_: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """Map a domain or application error."""
    status, slug, title = 500, "internal-error", "Internal error"
    for cls in type(error).__mro__:
        if cls in _MAPPING:
            status, slug, title = _MAPPING[cls]
            break
    extra: dict[str, Any] = {}
    if isinstance(error, SchemaValidationError):
        extra["errors"] = _violations(error.violations)
    if isinstance(error, SchemaAlreadyExistsError):
        extra["existingId"] = error.existing_id
    if isinstance(error, StaleVersionError):
        extra["currentVersion"] = error.current
    return problem(status, slug, title, str(error), **extra)


def http_error(_: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """Map Litestar's own HTTP errors (unknown route, wrong method, body too large...)."""
    assert isinstance(error, HTTPException)
    if isinstance(error, ValidationException):
        return _parameter_problem(error)
    status = error.status_code
    slug, title = _HTTP_SLUGS.get(status, ("http-error", "HTTP error"))
    if isinstance(error, NotAuthorizedException):
        slug, title = _HTTP_SLUGS[401]
    headers = dict(error.headers or {})
    response = problem(status, slug, title, str(error.detail))
    response.headers.update(headers)
    return response


def _source(source: Any) -> str:
    text = str(getattr(source, "value", source) or "query")
    return {"path": "path", "query": "query", "header": "header", "cookie": "cookie"}.get(
        text, "query"
    )


def _parameter_problem(error: ValidationException) -> Response[dict[str, Any]]:
    # Litestar validates declared path/query/header parameters; its findings become the same
    # 422 problem as the registry's own parameter checks.
    extra = error.extra if isinstance(error.extra, list) else []
    violations = [
        Violation(f"/{_source(item.get('source'))}/{item.get('key', '')}",
                  str(item.get("message", "invalid value")))
        for item in extra
        if isinstance(item, dict)
    ] or [Violation("", "invalid parameter")]
    return registry_error(None, QueryValidationError(violations))  # type: ignore[arg-type]


def unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """Anything else is a bug: log it with the route, answer a bare 500 problem."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR, "internal-error", "Internal error",
        "the registry failed to handle this request; it has been logged",
    )


EXCEPTION_HANDLERS = {
    RegistryError: registry_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
