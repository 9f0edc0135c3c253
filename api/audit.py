"""Audit middleware: records every state-changing request and every denied one.

It sits outside authentication, so it also sees the requests that authentication refuses; the
record is written before the response starts, so the caller's next read already shows it.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

import anyio.to_thread
import jwt
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import status_for
from domain.ids import decode_schema_id, encode_schema_id
from registry.auth import Principal

if TYPE_CHECKING:
    from registry.service import Registry

log = logging.getLogger("registry.audit")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def outcome_of(status: int) -> str:
    """success, denied (401/403), rejected (other 4xx) or error (5xx)."""
    if status in (401, 403):
        return "denied"
    if status >= 500:
        return "error"
    return "rejected" if status >= 400 else "success"


def _claimed_tenant(scope: Scope) -> str:
    # Only used when authentication failed: what the caller *claimed*, flagged unauthenticated.
    headers = dict(scope.get("headers", []))
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return ""
    tenant = claims.get("tenant") if isinstance(claims, dict) else None
    return tenant if isinstance(tenant, str) and scheme.lower() == "bearer" else ""


def _schema_id(scope: Scope, headers: list[tuple[bytes, bytes]]) -> str | None:
    candidate = str(scope.get("path_params", {}).get("id", ""))
    for name, value in headers:
        if name.lower() == b"location":
            candidate = value.decode("latin-1").rsplit("/", 1)[-1]
    uuid = decode_schema_id(candidate) if candidate else None
    return encode_schema_id(uuid) if uuid else None


class AuditMiddleware(ASGIMiddleware):
    """Writes an audit record for the requests that must have one."""

    scopes = (ScopeType.HTTP,)

    async def handle(
        self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp
    ) -> None:
        recorded = False

        async def send_and_record(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                await self.record(scope, message["status"], list(message.get("headers", [])))
            await send(message)

        try:
            await next_app(scope, receive, send_and_record)
        except Exception as error:
            if not recorded:
                recorded = True
                await self.record(scope, status_for(error), [])
            raise

    async def record(self, scope: Scope, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """Record the request when it changed state or was denied."""
        method = str(scope.get("method", ""))
        if method in SAFE_METHODS and status not in (401, 403):
            return
        user = scope.get("user")
        principal = user if isinstance(user, Principal) else None
        registry: Registry = scope["app"].state.registry
        fields = {
            "tenant": principal.tenant if principal else _claimed_tenant(scope),
            "authenticated": principal is not None,
            "subject": principal.subject if principal else None,
            "email": principal.email if principal else None,
            "app_id": principal.app_id if principal else None,
            "method": method,
            "route": scope.get("path_template") or scope["path"],
            "path": scope["path"],
            "schema_id": _schema_id(scope, headers),
            "status": status,
            "outcome": outcome_of(status),
        }
        try:
            await anyio.to_thread.run_sync(partial(registry.record_audit, **fields))
        except Exception:  # the request itself must not fail because its audit record did
            log.exception("could not record the audit entry for %s %s", method, scope["path"])
