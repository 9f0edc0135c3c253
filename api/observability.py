"""Request ids on every response, and readiness for load balancers and orchestrators.

:class:`RequestIds` wraps the whole app (unknown routes included): it takes the caller's
``X-Request-Id`` when it is a sane token, else makes one, makes it the request's id for logs
(:data:`registry.logs.REQUEST_ID`) and problem bodies (``requestId``), and returns it in the
``X-Request-Id`` header of the response. It costs one context variable and one header.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable

from litestar import get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.models import Readiness
from api.openapi import problems
from api.problems import not_ready
from api.runtime import read
from registry.health import DatabaseUnavailableError
from registry.logs import REQUEST_ID
from registry.service import Registry

HEADER = b"x-request-id"
_PROCESS = os.urandom(8).hex()  # ids are this process's random prefix and a counter: unique,
_COUNTER = itertools.count(1)  # and cheaper than random bytes on every request
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,128}")


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-Id`` if it is 1-128 of ``[A-Za-z0-9._-]``, else a new id."""
    for name, value in headers:
        if name == HEADER:
            if _SANE.fullmatch(value):
                return value.decode("ascii")
            break
    return f"{_PROCESS}{next(_COUNTER):016x}"  # 32 hex digits


class RequestIds:
    """ASGI middleware around the whole app: every HTTP response carries ``X-Request-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        header = (HEADER, request_id.encode("ascii"))
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


@get("/ready", tags=["operations"], responses=problems(503))
async def ready(state: State) -> Readiness:
    """Readiness: the database answers and the read models are at most the configured number
    of events behind the event store. Answers without credentials."""
    registry: Registry = state.registry
    limit = registry.settings.ready_max_lag
    try:
        head, position = await read(registry, registry.lag)
    except DatabaseUnavailableError as error:
        raise not_ready("the database is unavailable", None, limit,
                        error.retry_after) from None
    lag = max(head - position, 0)
    if lag > limit:
        raise not_ready(f"the read models are {lag} events behind (at most {limit} allowed)",
                        lag, limit)
    return Readiness(status="ready", lag=lag, position=position, max_lag=limit)
