"""Authentication: every ``/internal`` request carries a bearer JWT *and* an API token.

The JWT says who is calling (subject, tenant, roles); the ``X-API-Token`` says which registered
client application is calling. Both must be valid and belong to the same tenant.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from api.runtime import read, run
from domain.errors import ConcurrentWriteError
from domain.tokens import TokenState
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
        parsed = tokens.parse(presented)
        state = await read(registry, registry.tokens.get, parsed[0]) if parsed else None
        check_api_token(state, parsed, principal)
        assert state is not None
        if use_is_due(state):
            await run(record_use, registry, principal, state)
        return AuthenticationResult(
            user=dataclasses.replace(principal, app_id=state.app_id), auth=None
        )


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The JWT of the ``Authorization`` header."""
    header = connection.headers.get("authorization")
    if not header:
        raise AuthenticationError("missing 'Authorization: Bearer <token>' header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def check_api_token(
    state: TokenState | None, parsed: tuple[UUID, str] | None, principal: Principal
) -> None:
    """Refuse a presented API token that is unknown, wrong, revoked or of another tenant."""
    if parsed is None or state is None or not tokens.matches(parsed[1], state.secret_hash):
        raise AuthenticationError("invalid API token")
    if state.revoked:
        raise AuthenticationError("the API token was revoked")
    if state.tenant != principal.tenant:
        raise AuthenticationError("the API token and the bearer token are of different tenants")


def use_is_due(state: TokenState) -> bool:
    """True when the token's last recorded use is older than the recording interval."""
    last = state.last_used_at
    return last is None or datetime.now(UTC) - last >= USE_RECORDING_INTERVAL


def record_use(registry: Registry, principal: Principal, state: TokenState) -> None:
    """Record that the token was used."""
    # A concurrent request with the same token may have recorded this use already.
    with contextlib.suppress(ConcurrentWriteError):
        registry.record_token_use(principal.actor, state.id)


def bearer_auth(verifier: TokenVerifier) -> DefineMiddleware:
    """The middleware; ``/health`` (``exclude_from_auth``) and the OpenAPI docs are public."""
    return DefineMiddleware(BearerAuthMiddleware, verifier=verifier, exclude=["^/schema"])


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The authenticated caller of a request."""
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise AuthenticationError("authentication required")
    return user
