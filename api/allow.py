"""``OPTIONS`` answers ``Allow`` with every method of the path.

Litestar builds a path's automatic ``OPTIONS`` handler from the first route handler registered
on it, so a path served by two handlers (``GET`` and ``POST /schemas``, ``GET`` and ``PUT
/schemas/{id}``) would advertise only one of them. :func:`full_allow` rewrites the header
from the routes as the app finally assembled them; the access middleware applies it to
``OPTIONS`` requests only, so no other request pays for it.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope, Send


def full_allow(scope: Scope, send: Send) -> Send:
    """``send`` for an ``OPTIONS`` request: its ``Allow`` header lists every method."""

    async def send_with_allow(message: Message) -> None:
        if message["type"] == "http.response.start":
            _rewrite(message, scope)
        await send(message)

    return send_with_allow


def _rewrite(message: Message, scope: Scope) -> None:
    headers = MutableScopeHeaders.from_message(message)
    if "allow" not in headers:
        return
    template = scope.get("path_template")
    for route in scope["app"].routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            headers["Allow"] = ", ".join(sorted(route.methods))
            return
