"""``/internal/v1/connectors/oauth/{type}``: the OAuth authorization-code flow of a type.

``authorize`` answers the provider's URL to send the user to; the provider sends the user back
to the deployment's redirect URI, whose page posts ``code`` and ``state`` to ``callback``,
which answers a one-time ``oauthKey``; a connector create or update takes it as
``?oauth-key=``. Parse → command → respond: every rule is the grant aggregate's.
"""

from __future__ import annotations

from litestar import Controller, Response, get, post

from api.access import EDITORS, allow
from api.models import OAuthAuthorizeOut, OAuthKeyOut
from api.openapi import json_body_operation, problem, problems
from api.params import INTERNAL, JsonBody, OAuthTypeName
from api.params import Caller as CallerParam
from api.runtime import run
from domain.common import iso_timestamp
from domain.oauth.grant import CALLBACK_DOCUMENT, parse_callback

NO_STORE = {"Cache-Control": "no-store"}
_UNUSABLE = problem(408, "The state (or key) is unknown, used, older than ten minutes, or of"
                    " another tenant or type: start again")
_NOT_OAUTH = problem(404, "The type has no OAuth flow (not in the catalogue, or not `oauth`)")
_NOT_CONFIGURED = problem(409, "No OAuth client is configured for the type in this deployment")
CallbackOperation = json_body_operation(CALLBACK_DOCUMENT,
                                        "What the provider sent the user back with")


class OAuthController(Controller):
    """Start an OAuth flow for a connector type, and complete it."""

    path = f"{INTERNAL}/connectors/oauth"
    tags = ("oauth",)
    opt = allow(EDITORS)

    @get("/{type:str}/authorize", summary="Start an OAuth flow",
         responses=problems(401, 403) | _NOT_OAUTH | _NOT_CONFIGURED)
    async def authorize(self, caller: CallerParam,
                        type: OAuthTypeName) -> Response[OAuthAuthorizeOut]:
        """The provider's authorization URL (``state`` and a PKCE S256 challenge in it); the
        flow must be completed within ten minutes."""
        url = await run(caller.registry.app.start_oauth, caller.access, type,
                        caller.registry.clock())
        return Response(OAuthAuthorizeOut(auth_url=url), headers=NO_STORE)

    @post("/{type:str}/callback", status_code=200, summary="Complete an OAuth flow",
          operation_class=CallbackOperation,
          responses=problems(400, 401, 403, 413, 415, 422) | _NOT_OAUTH | _NOT_CONFIGURED
          | _UNUSABLE | problem(502, "The provider did not exchange the code for tokens"))
    async def callback(self, caller: CallerParam, type: OAuthTypeName,
                       document: JsonBody) -> Response[OAuthKeyOut]:
        """Exchange the code at the provider; answers a one-time ``oauthKey`` for
        ``POST /connectors?oauth-key=`` (or PUT/PATCH), valid until ``expiresAt``."""
        code, state = parse_callback(document)
        key, until = await run(caller.registry.app.complete_oauth, caller.access, type, code,
                               state, caller.registry.clock())
        return Response(OAuthKeyOut(oauth_key=key, expires_at=iso_timestamp(until) or ""),
                        headers=NO_STORE)
