"""``/internal/v1/api-tokens``: issue, list and revoke API tokens (admins only)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import PathParameter

from api.auth import principal_of
from api.bodies import json_body
from api.models import IssuedToken, TokenList, TokenOut
from api.openapi import TokenBodyOperation, problems
from api.runtime import read, registry_of, run
from domain.errors import SchemaValidationError
from domain.model import validate_token_request
from domain.tokens import TokenNotFoundError
from projections.tokens import token_document

Req = Request[Any, Any, Any]


def _token_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise TokenNotFoundError("API token not found") from None


class TokenController(Controller):
    """API tokens of the caller's tenant."""

    path = "/internal/v1/api-tokens"
    tags = ("api-tokens",)

    @post(
        "/",
        responses=problems(400, 401, 403, 413, 415, 422),
        summary="Issue an API token",
        operation_class=TokenBodyOperation,
    )
    async def issue(self, request: Req) -> Response[IssuedToken]:
        """Issue a token; the response is the only time its secret is shown."""
        principal = principal_of(request)
        body = await json_body(request)
        violations = validate_token_request(body)
        if violations:
            raise SchemaValidationError(violations)
        state, text = await run(
            registry_of(request).issue_api_token, principal.actor, body.get("name"),
            body.get("appId"),
        )
        document = token_document(state) | {"token": text}
        return Response(msgspec.convert(document, IssuedToken), status_code=201,
                        headers={"Cache-Control": "no-store"})

    @get("/", responses=problems(401, 403), summary="List API tokens")
    async def list_tokens(self, request: Req) -> TokenList:
        """Every token of the tenant, without secrets."""
        principal = principal_of(request)
        registry = registry_of(request)
        documents = await read(registry, registry.tokens.for_tenant, principal.tenant)
        return TokenList(tokens=[msgspec.convert(d, TokenOut) for d in documents])

    @delete("/{id:str}", responses=problems(401, 403, 404, 409), summary="Revoke an API token")
    async def revoke(self, request: Req, id: Annotated[str, PathParameter()]) -> None:
        """Revoke a token for good."""
        principal = principal_of(request)
        await run(registry_of(request).revoke_api_token, principal.actor, _token_id(id))

