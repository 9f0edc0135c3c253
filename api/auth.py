"""Authentication middleware: every ``/internal`` request carries a bearer JWT."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from registry.auth import AuthenticationError, Principal, TokenVerifier


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Verifies ``Authorization: Bearer <JWT>`` and puts the principal on the request."""

    def __init__(self, app: Any, verifier: TokenVerifier, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.verifier = verifier

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if not header:
            raise AuthenticationError("missing 'Authorization: Bearer <token>' header")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        principal = self.verifier.verify(token.strip())
        return AuthenticationResult(user=principal, auth=None)


def bearer_auth(verifier: TokenVerifier) -> DefineMiddleware:
    """The middleware; ``/health`` (``exclude_from_auth``) and the OpenAPI docs are public."""
    return DefineMiddleware(
        BearerAuthMiddleware,
        verifier=verifier,
        exclude=["^/schema"],
    )


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The authenticated caller of a request."""
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise AuthenticationError("authentication required")
    return user
