"""Who may call what: one rule per route, checked by a guard on every ``/internal`` route.

The same table is published in ``docs/security.md``; a test walks every route with every role
and fails when a route has no rule here. A route without a rule is denied to everybody.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.auth import principal_of
from api.errors import PermissionDeniedError

ROLES = ("collector", "auditor", "editor", "admin")
UNIVERSAL = "/internal/v1/connector/universal"

_READERS = frozenset(ROLES)
_AUDITORS = frozenset({"auditor", "admin"})
_EDITORS = frozenset({"editor", "admin"})
_ADMINS = frozenset({"admin"})

RULES: dict[str, frozenset[str]] = {
    f"GET {UNIVERSAL}/schemas": _READERS,
    f"GET {UNIVERSAL}/schemas/{{id}}": _READERS,
    f"GET {UNIVERSAL}/schemas/{{id}}/versions/{{version}}": _READERS,
    f"GET {UNIVERSAL}/generate/schema-id/{{connector}}/{{id}}": _READERS,
    f"GET {UNIVERSAL}/generate/schema-uuid/{{connector}}/{{id}}": _READERS,
    f"GET {UNIVERSAL}/model/schemas": _READERS,
    f"GET {UNIVERSAL}/schemas/{{id}}/history": _AUDITORS,
    "GET /internal/v1/audit": _AUDITORS,
    f"POST {UNIVERSAL}/schemas": _EDITORS,
    f"PUT {UNIVERSAL}/schemas/{{id}}": _EDITORS,
    f"DELETE {UNIVERSAL}/schemas/{{cid}}/{{id}}": _EDITORS,
    f"POST {UNIVERSAL}/schemas/{{cid}}/{{id}}/restore": _EDITORS,
    f"DELETE {UNIVERSAL}/schemas/{{cid}}/{{id}}/erase": _ADMINS,
    "GET /internal/v1/api-tokens": _ADMINS,
    "POST /internal/v1/api-tokens": _ADMINS,
    "DELETE /internal/v1/api-tokens/{id}": _ADMINS,
}


def rule_key(method: str, path_template: str) -> str:
    """The key of a route in :data:`RULES`."""
    return f"{method.upper()} {path_template.rstrip('/') or '/'}"


async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Allow the request when one of the caller's roles is allowed on this route."""
    principal = principal_of(connection)
    key = rule_key(str(connection.scope.get("method", "")), connection.scope["path_template"])
    allowed = RULES.get(key, frozenset())
    if allowed.isdisjoint(principal.roles):
        needed = ", ".join(sorted(allowed)) or "nobody"
        raise PermissionDeniedError(f"this route needs one of the roles: {needed}")
