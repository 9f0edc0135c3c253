"""``/internal/v1/api-tokens``: issue, list and revoke API tokens (admins only)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, delete, get, post

from api.access import ADMINS, allow
from api.models import IssuedToken, TokenList, issued_token, token_out
from api.openapi import TokenBodyOperation, problems
from api.params import INTERNAL, Caller, JsonBody, TokenId
from api.runtime import read, run
from domain.errors import SchemaValidationError
from domain.model import validate_token_request
from domain.tokens import TokenNotFoundError


def _token_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise TokenNotFoundError("API token not found") from None


class TokenController(Controller):
    """API tokens of the caller's tenant."""

    path = f"{INTERNAL}/api-tokens"
    tags = ("api-tokens",)
    opt = allow(ADMINS)

    @post("/", responses=problems(400, 401, 403, 413, 415, 422), summary="Issue an API token",
          operation_class=TokenBodyOperation)
    async def issue(
        self, caller: Caller, document: JsonBody
    ) -> Response[IssuedToken]:
        """Issue a token; the response is the only time its secret is shown."""
        violations = validate_token_request(document)
        if violations:
            raise SchemaValidationError(violations)
        state, text = await run(caller.registry.app.issue_api_token, caller.actor,
                                document.get("name"), document.get("appId"))
        return Response(issued_token(state, text), status_code=201,
                        headers={"Cache-Control": "no-store"})

    @get("/", responses=problems(401, 403), summary="List API tokens")
    async def list_tokens(self, caller: Caller) -> TokenList:
        """Every token of the tenant, without secrets."""
        states = await read(caller.registry, caller.registry.tokens.for_tenant, caller.tenant)
        return TokenList(tokens=[token_out(s) for s in states])

    @delete("/{id:str}", responses=problems(401, 403, 404, 409), summary="Revoke an API token")
    async def revoke(
        self, caller: Caller, id: TokenId
    ) -> None:
        """Revoke a token for good."""
        await run(caller.registry.app.revoke_api_token, caller.actor, _token_id(id))
