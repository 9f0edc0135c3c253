"""``OPTIONS`` answers ``Allow`` with every method of the path.

Litestar builds a path's automatic ``OPTIONS`` handler from the first route handler registered
on it, so a path served by two handlers (``GET`` and ``POST /schemas``, ``GET`` and ``PUT
/schemas/{id}``) would advertise only one of them. This hook rewrites the header from the
routes as the app finally assembled them.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


async def allow_every_method(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: the full ``Allow`` header on ``OPTIONS`` answers."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    headers = MutableScopeHeaders.from_message(message)
    if "allow" not in headers:
        return
    template = scope.get("path_template")
    for route in scope["app"].routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            headers["Allow"] = ", ".join(sorted(route.methods))
            return
