"""Errors as RFC 9457 ``application/problem+json``: one table, served by ``ProblemDetailsPlugin``.

Domain and registry errors are mapped by class; errors that only exist in HTTP (a body that is
not JSON, a role that is not allowed) are :class:`Problem` exceptions raised by the API itself.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from domain.connectors.connection_errors import (
    AuthSchemeConfigExistsError,
    AuthSchemeConfigInUseError,
    AuthSchemeConfigNotFoundError,
    ConnectionNameTakenError,
    ConnectionNotFoundError,
)
from domain.connectors.errors import (
    ConnectorDeletedError,
    ConnectorErasedError,
    ConnectorExistsError,
    ConnectorForbiddenError,
    ConnectorHasSchemasError,
    ConnectorNameTakenError,
    ConnectorNotDeletedError,
    ConnectorNotFoundError,
    ConnectorNotLiveError,
    ConnectorRefreshBusyError,
    ConnectorTypeNotFoundError,
    ConnectorValidationError,
    ConnectorVersionNotFoundError,
)
from domain.credentials.errors import (
    CredentialDeletedError,
    CredentialErasedError,
    CredentialInUseError,
    CredentialNotDeletedError,
    CredentialNotFoundError,
    CredentialOwnedError,
    CredentialValidationError,
    CredentialVersionNotFoundError,
)
from domain.errors import (
    ConcurrentWriteError,
    IncompatibleSchemaError,
    RegistryError,
    SchemaAlreadyExistsError,
    SchemaDeletedError,
    SchemaErasedError,
    SchemaForbiddenError,
    SchemaNotDeletedError,
    SchemaNotFoundError,
    SchemaValidationError,
    SchemaVersionNotFoundError,
    StaleVersionError,
    Violation,
)
from domain.oauth.errors import (
    OAuthExchangeError,
    OAuthKeyExpiredError,
    OAuthNotConfiguredError,
    OAuthTypeError,
)
from domain.record_query import RecordFilterError, RecordNotFoundError
from domain.scripts.actions import (
    ActionFailedError,
    ActionInputError,
    ActionNotFoundError,
    ActionsBusyError,
)
from domain.scripts.versions import (
    ScriptVersionHasErrorsError,
    ScriptVersionNameTakenError,
    ScriptVersionNotFoundError,
    ScriptVersionValidationError,
)
from domain.sync.errors import (
    SyncInProgressError,
    SyncJobFinishedError,
    SyncJobNotFoundError,
)
from domain.tokens import TokenNotFoundError, TokenRevokedError
from domain.webhooks.endpoint import WebhookNotFoundError, WebhookValidationError
from registry.auth import AuthenticationError
from registry.connection.errors import (
    ConnectionFailedError,
    ConnectionTestInvalidError,
    ConnectionTimeoutError,
    CredentialsRefusedError,
    TargetNotAllowedError,
)
from registry.health import DatabaseUnavailableError, as_unavailable
from registry.logs import REQUEST_ID
from registry.sandbox import SandboxUnavailableError

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://connector-schema-registry.dev/problems/"
UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": 'Bearer realm="registry"'}
log = logging.getLogger("registry.api")

# error class -> (status, problem type slug, title)
ERRORS: dict[type[Exception], tuple[int, str, str]] = {
    SchemaValidationError: (422, "validation-failed", "The request is not valid"),
    SchemaNotFoundError: (404, "schema-not-found", "Schema not found"),
    SchemaVersionNotFoundError: (404, "version-not-found", "Schema version not found"),
    SchemaDeletedError: (404, "schema-deleted", "Schema was deleted"),
    SchemaErasedError: (410, "schema-erased", "Schema was erased"),
    SchemaAlreadyExistsError: (409, "schema-exists", "Schema already exists"),
    SchemaNotDeletedError: (409, "schema-not-deleted", "Schema is not deleted"),
    IncompatibleSchemaError: (409, "incompatible", "Incompatible schema change"),
    SchemaForbiddenError: (403, "schema-forbidden",
                           "Only callers who can see a schema's connector may change it"),
    ConcurrentWriteError: (409, "concurrent-write", "Concurrent modification"),
    ConnectorRefreshBusyError: (409, "concurrent-write", "Concurrent modification"),
    StaleVersionError: (412, "stale-version", "Precondition failed: stale version"),
    AuthenticationError: (401, "unauthenticated", "Authentication required"),
    TokenNotFoundError: (404, "api-token-not-found", "API token not found"),
    ConnectorTypeNotFoundError: (404, "connector-type-not-found", "Connector type not found"),
    ConnectorValidationError: (422, "validation-failed", "The request is not valid"),
    ConnectorNotFoundError: (404, "connector-not-found", "Connector not found"),
    ConnectorVersionNotFoundError: (404, "connector-version-not-found",
                                    "Connector version not found"),
    ConnectorDeletedError: (404, "connector-deleted", "Connector was deleted"),
    ConnectorErasedError: (410, "connector-erased", "Connector was erased"),
    ConnectorNameTakenError: (409, "connector-name-taken", "Connector name already taken"),
    ConnectorHasSchemasError: (409, "connector-has-schemas", "Connector still holds schemas"),
    ConnectorNotDeletedError: (409, "connector-not-deleted", "Connector is not deleted"),
    ConnectorNotLiveError: (409, "connector-not-live", "Connector is deleted"),
    ConnectorExistsError: (409, "connector-exists", "Connector already exists"),
    ConnectorForbiddenError: (403, "connector-forbidden",
                              "Only the connector's owner or an admin may change it"),
    CredentialValidationError: (422, "validation-failed", "The request is not valid"),
    CredentialNotFoundError: (404, "credential-not-found", "Credential not found"),
    CredentialVersionNotFoundError: (404, "credential-version-not-found",
                                     "Credential version not found"),
    CredentialDeletedError: (404, "credential-deleted", "Credential was deleted"),
    CredentialErasedError: (410, "credential-erased", "Credential was erased"),
    CredentialNotDeletedError: (409, "credential-not-deleted", "Credential is not deleted"),
    CredentialOwnedError: (409, "credential-owned", "Credential belongs to a connector"),
    CredentialInUseError: (409, "credential-in-use", "Credential is in use"),
    AuthSchemeConfigNotFoundError: (404, "auth-scheme-config-not-found",
                                    "Auth scheme config not found"),
    AuthSchemeConfigExistsError: (409, "auth-scheme-config-exists",
                                  "Auth scheme config already exists"),
    AuthSchemeConfigInUseError: (409, "auth-scheme-config-in-use",
                                 "Auth scheme config is in use"),
    ConnectionNotFoundError: (404, "connection-not-found", "Connection not found"),
    ConnectionNameTakenError: (409, "connection-name-taken", "Connection name already taken"),
    TokenRevokedError: (409, "api-token-revoked", "API token already revoked"),
    ConnectionTestInvalidError: (400, "validation-failed", "The request is not valid"),
    TargetNotAllowedError: (400, "target-not-allowed",
                            "The target is an address the registry may not reach"),
    CredentialsRefusedError: (403, "credentials-refused", "The system refused the credentials"),
    ConnectionTimeoutError: (408, "connection-timeout", "The system did not answer in time"),
    ConnectionFailedError: (502, "connection-failed", "The connection failed"),
    DatabaseUnavailableError: (503, "database-unavailable", "Database unavailable"),
    OAuthKeyExpiredError: (408, "oauth-key-expired", "OAuth grant expired or unknown"),
    OAuthTypeError: (404, "oauth-type-not-found", "Connector type has no OAuth flow"),
    OAuthNotConfiguredError: (409, "oauth-not-configured", "OAuth not configured"),
    OAuthExchangeError: (502, "oauth-exchange-failed", "OAuth provider refused"),
    ScriptVersionValidationError: (422, "validation-failed", "The request is not valid"),
    ScriptVersionNotFoundError: (404, "script-version-not-found", "Script version not found"),
    ScriptVersionNameTakenError: (409, "script-version-name-taken",
                                  "Script version name already taken"),
    ScriptVersionHasErrorsError: (409, "script-version-has-errors",
                                  "Script version has errors"),
    SandboxUnavailableError: (503, "sandbox-unavailable", "Scripts cannot run here"),
    SyncJobNotFoundError: (404, "sync-job-not-found", "Sync job not found"),
    SyncInProgressError: (409, "sync-in-progress", "A sync of the connector is in progress"),
    SyncJobFinishedError: (409, "sync-job-finished", "Sync job has finished"),
    ActionNotFoundError: (404, "action-not-found", "Tool not found"),
    ActionInputError: (422, "validation-failed", "The request is not valid"),
    ActionFailedError: (502, "action-failed", "The action failed"),
    ActionsBusyError: (429, "too-many-actions", "Too many actions of this connector"),
    RecordNotFoundError: (404, "record-not-found", "Record not found"),
    RecordFilterError: (422, "invalid-parameter", "Invalid parameter"),
    WebhookValidationError: (422, "validation-failed", "The request is not valid"),
    WebhookNotFoundError: (404, "webhook-not-found", "Webhook endpoint not found"),
}

# Litestar's own HTTP errors (unknown route, wrong method, body too large...)
HTTP_ERRORS = {
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


class Problem(ProblemDetailsException):
    """An error that only exists in HTTP, raised by the API with its status and type."""

    def __init__(
        self, status: int, slug: str, title: str, detail: str, *,
        headers: dict[str, str] | None = None, **extra: Any,
    ) -> None:
        if status == 401:
            headers = {**UNAUTHENTICATED_HEADERS, **(headers or {})}
        request_id = REQUEST_ID.get()
        if request_id is not None:
            extra["requestId"] = request_id
        super().__init__(
            detail=detail, status_code=status, type_=PROBLEM_BASE + slug, title=title,
            headers=headers, extra=extra or None,
        )


def bad_request(detail: str) -> Problem:
    """400: the request cannot be parsed (e.g. its body is not JSON)."""
    return Problem(400, "malformed-request", "Malformed request", detail)


def unsupported_media_type(detail: str) -> Problem:
    """415: the body is not ``application/json``."""
    return Problem(415, "unsupported-media-type", "Unsupported media type", detail)


def forbidden(detail: str) -> Problem:
    """403: authenticated, but no role of the caller allows the route."""
    return Problem(403, "forbidden", "Forbidden", detail)


def not_ready(reason: str, lag: int | None, max_lag: int, retry_after: int = 1) -> Problem:
    """503 from ``/ready``: the database does not answer, or the read models lag too far."""
    return Problem(503, "not-ready", "Not ready", reason,
                   headers={"Retry-After": str(retry_after)}, lag=lag, maxLag=max_lag)


def invalid_parameters(violations: list[Violation]) -> Problem:
    """422: a path, query or header parameter has a value the API cannot use."""
    detail = "; ".join(f"{v.pointer or '/'}: {v.message}" for v in violations)
    return Problem(422, "invalid-parameter", "Invalid parameter", detail,
                   errors=_violations(violations))


def _violations(violations: list[Violation]) -> list[dict[str, str]]:
    return [{"pointer": v.pointer, "message": v.message} for v in violations]


def status_for(error: BaseException) -> int:
    """The HTTP status an error is answered with."""
    if isinstance(error, ValidationException):
        return 422
    if isinstance(error, HTTPException):
        return error.status_code
    for cls in type(error).__mro__:
        if cls in ERRORS:
            return ERRORS[cls][0]
    return 500


def from_registry_error(error: RegistryError) -> ProblemDetailsException:
    """A domain or registry error as a problem."""
    status, slug, title = ERRORS.get(type(error)) or _by_base(error)
    extra: dict[str, Any] = {}
    if isinstance(error, SchemaValidationError | ConnectorValidationError
                  | CredentialValidationError | ScriptVersionValidationError
                  | RecordFilterError | ActionInputError
                  | WebhookValidationError):
        extra["errors"] = _violations(error.violations)
    if isinstance(error, SyncInProgressError):
        extra["jobId"] = error.job_id
    if isinstance(error, SchemaAlreadyExistsError):
        extra["existingId"] = error.existing_id
    if isinstance(error, ConnectorNameTakenError):
        extra["existingId"] = error.holder_id
    if isinstance(error, ConnectorHasSchemasError):
        extra["schemaIds"] = error.schema_ids
    if isinstance(error, CredentialInUseError):
        extra["usedBy"] = error.users
    if isinstance(error, AuthSchemeConfigInUseError):
        extra["usedBy"] = error.connections
    if isinstance(error, IncompatibleSchemaError):
        extra["mode"] = error.mode
        extra["violations"] = error.violations
    if isinstance(error, StaleVersionError):
        extra["currentVersion"] = error.current
    headers = None
    if isinstance(error, DatabaseUnavailableError):
        headers = {"Retry-After": str(error.retry_after)}
    if isinstance(error, ActionsBusyError):
        headers = {"Retry-After": "1"}
    return Problem(status, slug, title, str(error), headers=headers, **extra)


def _by_base(error: Exception) -> tuple[int, str, str]:
    for cls in type(error).__mro__:
        if cls in ERRORS:
            return ERRORS[cls]
    return 500, "internal-error", "Internal error"


def from_http_error(error: HTTPException) -> ProblemDetailsException:
    """Litestar's own errors; parameter validation becomes the registry's 422."""
    if isinstance(error, ProblemDetailsException):
        return error
    if isinstance(error, ValidationException):
        return invalid_parameters(_parameter_violations(error))
    slug, title = HTTP_ERRORS.get(error.status_code, ("http-error", "HTTP error"))
    if isinstance(error, NotAuthorizedException):
        slug, title = HTTP_ERRORS[401]
    return Problem(error.status_code, slug, title, str(error.detail), headers=error.headers)


def _parameter_violations(error: ValidationException) -> list[Violation]:
    # Litestar reports the Python parameter name; clients know the alias they sent.
    items = error.extra if isinstance(error.extra, list) else []
    found = [
        Violation(f"/{_source(item.get('source'))}/{_alias(item.get('key'))}",
                  str(item.get("message", "invalid value")))
        for item in items
        if isinstance(item, dict)
    ]
    return found or [Violation("", "invalid parameter")]


PARAMETER_ALIASES: dict[str, str] = {}
"""Python parameter name → the name on the wire, filled by :mod:`api.params`."""


def _alias(key: Any) -> str:
    return PARAMETER_ALIASES.get(str(key), str(key))


def _source(source: Any) -> str:
    text = str(getattr(source, "value", source) or "query")
    return text if text in ("path", "query", "header", "cookie") else "query"


def unexpected(request: Request[Any, Any, Any], error: Exception) -> ProblemDetailsException:
    """Anything else is a bug: logged with the route, answered with a bare 500 problem.

    Except a database outage the driver reported past the registry's guards (SQLite locked
    or out of disk, a PostgreSQL connection error): that is 503, without a traceback.
    """
    outage = as_unavailable(error)
    if outage is not None:
        log.warning("database unavailable on %s %s: %s", request.method,
                    request.scope.get("path_template"), type(error).__name__)
        return from_registry_error(outage)
    log.error("unhandled error on %s %s", request.method, request.scope.get("path_template"),
              exc_info=error)
    return Problem(500, "internal-error", "Internal error",
                   "the registry failed to handle this request; it has been logged")


def problem_details_plugin() -> ProblemDetailsPlugin:
    """Every error of the app as ``application/problem+json``."""
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                RegistryError: from_registry_error,
                HTTPException: from_http_error,
            }
        )
    )
