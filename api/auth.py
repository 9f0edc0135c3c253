"""Authentication: every ``/internal`` request carries a bearer JWT *and* an API token.

The JWT says who is calling (subject, tenant, roles); the ``X-API-Token`` says which registered
client application is calling. Both must be valid and belong to the same tenant.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from domain.errors import ConcurrentWriteError
from registry import tokens
from registry.auth import AuthenticationError, Principal, TokenVerifier

if TYPE_CHECKING:
    from registry.service import Registry

API_TOKEN_HEADER = "x-api-token"  # noqa: S105 - a header name, not a secret
USE_RECORDING_INTERVAL = timedelta(minutes=1)


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Verifies both credentials and puts the principal on the request."""

    def __init__(self, app: Any, verifier: TokenVerifier, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.verifier = verifier

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        principal = self.verifier.verify(bearer_token(connection))
        presented = connection.headers.get(API_TOKEN_HEADER)
        if not presented:
            raise AuthenticationError("missing 'X-API-Token' header")
        registry: Registry = connection.app.state.registry
        app_id = await anyio.to_thread.run_sync(
            partial(check_api_token, registry, principal, presented)
        )
        return AuthenticationResult(user=dataclasses.replace(principal, app_id=app_id), auth=None)


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The JWT of the ``Authorization`` header."""
    header = connection.headers.get("authorization")
    if not header:
        raise AuthenticationError("missing 'Authorization: Bearer <token>' header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def check_api_token(registry: Registry, principal: Principal, presented: str) -> str:
    """The application id of a valid API token of the principal's tenant."""
    parsed = tokens.parse(presented)
    state = registry.tokens.get(parsed[0]) if parsed else None
    if parsed is None or state is None or not tokens.matches(parsed[1], state.secret_hash):
        raise AuthenticationError("invalid API token")
    if state.revoked:
        raise AuthenticationError("the API token was revoked")
    if state.tenant != principal.tenant:
        raise AuthenticationError("the API token and the bearer token are of different tenants")
    last = state.last_used_at
    if last is None or datetime.now(UTC) - last >= USE_RECORDING_INTERVAL:
        # A concurrent request with the same token may have recorded this use already.
        with contextlib.suppress(ConcurrentWriteError):
            registry.record_token_use(principal.actor, state.id)
    return state.app_id


def bearer_auth(verifier: TokenVerifier) -> DefineMiddleware:
    """The middleware; ``/health`` (``exclude_from_auth``) and the OpenAPI docs are public."""
    return DefineMiddleware(BearerAuthMiddleware, verifier=verifier, exclude=["^/schema"])


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The authenticated caller of a request."""
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise AuthenticationError("authentication required")
    return user
