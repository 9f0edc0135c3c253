"""The collectors' hot path: ``GET …/schemas/{id}`` answered from memory before Litestar runs.

Collectors resolve a schema by id on every batch they send. This plain ASGI layer answers
that one read itself when everything the answer needs is already known in this process, and
hands every other request to Litestar unchanged:

- the request is ``GET …/schemas/{id}`` with no query string, and each of the headers the
  route reads (``Authorization``, ``X-API-Token``, ``If-None-Match``) at most once;
- both credentials are ones the authenticator checked in full and still remembers
  (:meth:`registry.access.Authenticator.remembered`: the same API-token state, the same
  verification keys, the JWT not expired, no use of the token due to be recorded), and the
  caller has one of the roles the route declares (read from the route at start-up);
- the schema's head — its current version and status, read from the read model on every
  request exactly as the route reads it — says it is active in the caller's tenant;
- the route's own cache of encoded bodies holds that very version (or ``If-None-Match``
  names it: 304).

The answer is then the status, bytes and headers the route answers for the same request. A
first request, an unknown, deleted or erased schema, another tenant's id, a stale body, a
query, a refusal, an error: all go to Litestar, which answers them (and fills the caches).
The route stays the one definition of the read; this layer only skips the framework's
per-request work (routing, middleware, parameter parsing, dependency injection) for answers
the route has already given. Decision 38, ``docs/architecture.md``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from api.bodies import etag, none_match
from api.params import UNIVERSAL
from api.runtime import read
from api.schemas import CURRENT, JSON, EncodedSchemas
from domain.ids import decode_schema_id

PREFIX = f"{UNIVERSAL}/schemas/"
ROUTE = f"{PREFIX}{{id:str}}"
_READ = {b"authorization": 0, b"x-api-token": 1, b"if-none-match": 2}
_CACHE_HEADERS = ((b"cache-control", CURRENT.encode()),)
_JSON = (b"content-type", JSON.encode())

Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


class SchemaReads:
    """ASGI layer in front of the app: hits of ``GET …/schemas/{id}``, else the app."""

    def __init__(self, app: Litestar, inner: ASGIApp) -> None:
        self.app = app
        self.inner = inner
        handler = route_handler(app, ROUTE, "GET")
        self.roles: frozenset[str] = handler.opt["roles"]
        self.bodies: EncodedSchemas = handler.fn.__self__.bodies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == ScopeType.HTTP and scope["method"] == "GET"
                and scope["path"].startswith(PREFIX) and not scope["query_string"]):
            answer = await self._answer(scope)
            if answer is not None:
                status, body, headers = answer
                start: HTTPResponseStartEvent = {"type": "http.response.start",
                                                 "status": status, "headers": headers}
                await send(start)
                end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body,
                                              "more_body": False}
                await send(end)
                return
        await self.inner(scope, receive, send)

    async def _answer(self, scope: Scope) -> Answer | None:
        """The route's answer when this process already knows it, else ``None``."""
        text = scope["path"][len(PREFIX):]
        uuid: UUID | None = decode_schema_id(text) if text and "/" not in text else None
        values = _headers(scope) if uuid is not None else None
        state = self.app.state
        if values is None or state.registry is None:
            return None
        authorization, api_token, if_none_match = values
        principal = state.authenticator.remembered(authorization, api_token)
        if principal is None or self.roles.isdisjoint(principal.roles):
            return None
        registry = state.registry
        try:
            head = await read(registry, registry.queries.head, principal.tenant, uuid)
        except Exception:  # the route answers the failure (503 while the database is down)
            return None
        if head is None or head.status != "active":
            return None
        tag = (b"etag", etag(head.version).encode())
        if none_match(if_none_match, head.version):
            return 304, b"", [tag, *_CACHE_HEADERS]
        assert uuid is not None
        body = self.bodies.get(uuid, head.version)
        if body is None:
            return None
        return 200, body, [tag, *_CACHE_HEADERS, _JSON,
                           (b"content-length", str(len(body)).encode())]


def _headers(scope: Scope) -> list[str | None] | None:
    """The values of the headers the route reads; ``None`` when one of them is repeated."""
    values: list[str | None] = [None, None, None]
    for name, value in scope["headers"]:
        index = _READ.get(name)
        if index is not None:
            if values[index] is not None:
                return None
            values[index] = value.decode("latin-1")
    return values


def route_handler(app: Litestar, path: str, method: str) -> Any:
    """The handler of ``method`` on the route ``path`` (as Litestar spells its template)."""
    for route in app.routes:
        if route.path == path:
            for handler in getattr(route, "route_handlers", ()):
                if method in handler.http_methods:
                    return handler
    raise LookupError(f"no {method} {path} route")
