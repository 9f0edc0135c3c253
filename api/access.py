"""Who may call what, checked once per request by one middleware; and the audit trail.

Each ``/internal`` route declares the roles it allows in its ``opt`` (``opt=allow(EDITORS)``);
one that declares none is denied to everybody. Routes outside ``/internal`` are public
(``/health``, the OpenAPI document), and so is ``OPTIONS`` (it shows methods, never data).
Litestar runs middleware after routing, so this one reads the route's roles from the scope
and checks both credentials and the roles before the handler runs. Reads pass straight
through; state-changing requests and refused ones are recorded in the audit trail before the
response starts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.allow import full_allow
from api.problems import forbidden, status_for
from api.runtime import run
from domain.common import Actor
from domain.ids import decode_schema_id, encode_schema_id
from registry.access import (
    Authenticator,
    check_api_token,
    parse_api_token,
    use_is_due,
)
from registry.application import PENDING_AUDIT, AuditDraft
from registry.auth import ROLES, Principal
from registry.connectors import Access
from registry.health import DatabaseUnavailableError
from registry.service import Registry

log = logging.getLogger("registry.audit")
AUDIT_DETAIL = "audit_detail"
"""The ASGI scope key under which a handler leaves its audit record's ``detail``."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
INTERNAL = "/internal/"

READERS = frozenset(ROLES)
AUDITORS = frozenset({"auditor", "admin"})
EDITORS = frozenset({"editor", "admin"})
ADMINS = frozenset({"admin"})


def allow(roles: Iterable[str]) -> dict[str, Any]:
    """The ``opt`` of a route that these roles may call."""
    return {"roles": frozenset(roles)}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, and the registry they call: the one dependency of ``/internal`` handlers.

    One dependency rather than two: Litestar resolves several dependencies of one handler
    concurrently in a task group, which costs more than the whole rest of a cached read.
    """

    principal: Principal
    registry: Registry

    @property
    def tenant(self) -> str:
        """The caller's tenant: every read and write is scoped to it."""
        return self.principal.tenant

    @property
    def actor(self) -> Actor:
        """The caller as events record it."""
        return self.principal.actor

    @property
    def access(self) -> Access:
        """The caller as the commands' access rules need it: actor, JWT roles and groups."""
        principal = self.principal
        return Access(principal.actor, principal.roles, principal.groups)


def caller_of(scope: Scope) -> Caller:
    """The authenticated caller (put in the scope by :class:`AccessMiddleware`)."""
    return Caller(scope["user"], scope["app"].state.registry)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class AccessMiddleware(ASGIMiddleware):
    """Authenticates, checks the route's roles, and audits what must be audited."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") == "OPTIONS":  # discovery and CORS preflight carry no credentials
            await next_app(scope, receive, full_allow(scope, send))
            return
        allowed = scope["route_handler"].opt.get("roles")
        if allowed is None:
            if not scope["path"].startswith(INTERNAL):  # /health, the OpenAPI document
                await next_app(scope, receive, send)
                return
            allowed = frozenset()  # an /internal route that declares no roles: nobody
        try:
            principal = await authenticate(scope, scope["app"].state.authenticator)
            scope["user"] = principal
            if allowed.isdisjoint(principal.roles):
                needed = ", ".join(sorted(allowed)) or "nobody"
                raise forbidden(f"this route needs one of the roles: {needed}")
        except Exception as error:
            await record(scope, status_for(error), [])
            raise
        if scope.get("method") in SAFE_METHODS:
            await next_app(scope, receive, send)
            return
        await audited(scope, receive, send, next_app)


async def authenticate(scope: Scope, authenticator: Authenticator) -> Principal:
    """Both credentials of the request: remembered, or checked in full (and remembered)."""
    authorization, presented = _header(scope, b"authorization"), _header(scope, b"x-api-token")
    principal = authenticator.remembered(authorization, presented)
    if principal is not None:
        return principal
    principal = authenticator.principal(authorization)
    token_id, secret = parse_api_token(presented)
    state = authenticator.known(token_id) or await run(authenticator.lookup, token_id)
    principal = check_api_token(state, secret, principal)
    assert state is not None
    if use_is_due(state):
        await run(authenticator.record_use, principal, state)
        state = authenticator.known(token_id) or state
    authenticator.remember(authorization, presented, principal, state)
    return principal


async def audited(scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
    """Run a state-changing request with its audit record.

    When the command succeeds, the record was saved in the command's own transaction
    (:class:`AuditDraft`); any other outcome is recorded here before the response starts.
    """
    success = int(getattr(scope["route_handler"], "status_code", 200))
    draft = AuditDraft(_fields(scope), success, _schema_id(scope, []))
    recorded = False

    async def send_and_record(message: Message) -> None:
        nonlocal recorded
        if message["type"] == "http.response.start" and not recorded:
            recorded = True
            if not (draft.saved and message["status"] == draft.status):
                await record(scope, message["status"], list(message.get("headers", [])))
        await send(message)

    pending = PENDING_AUDIT.set(draft)
    try:
        await next_app(scope, receive, send_and_record)
    except Exception as error:
        if not recorded:
            await record(scope, status_for(error), [])
        raise
    finally:
        PENDING_AUDIT.reset(pending)


def outcome_of(status: int) -> str:
    """success, denied (401/403), rejected (other 4xx) or error (5xx)."""
    if status in (401, 403):
        return "denied"
    if status >= 500:
        return "error"
    return "rejected" if status >= 400 else "success"


def _fields(scope: Scope) -> dict[str, Any]:
    """Who asked for what: never the request path, which may hold a connector id."""
    user = scope.get("user")
    principal = user if isinstance(user, Principal) else None
    return {
        "tenant": principal.tenant if principal else _claimed_tenant(scope),
        "authenticated": principal is not None,
        "subject": principal.subject if principal else None,
        "email": principal.email if principal else None,
        "app_id": principal.app_id if principal else None,
        "method": str(scope.get("method", "")),
        "route": scope.get("path_template") or scope["path"],
    }


async def record(scope: Scope, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    """Append the audit record of a request on its own."""
    registry: Registry = scope["app"].state.registry
    fields = _fields(scope) | {
        "schema_id": _schema_id(scope, headers),
        "status": status,
        "outcome": outcome_of(status),
        "detail": scope.get(AUDIT_DETAIL),
    }
    pending = PENDING_AUDIT.set(None)  # this save is the record itself, nothing to add
    try:
        await run(registry.app.record_audit, **fields)
    except DatabaseUnavailableError:  # the outage itself is logged once, by registry.health
        pass
    except Exception:  # the request itself must not fail because its audit record did
        log.exception("could not record the audit entry for %s %s", fields["method"],
                      fields["route"])
    finally:
        PENDING_AUDIT.reset(pending)


def _claimed_tenant(scope: Scope) -> str:
    # Only used when authentication failed: what the caller *claimed*, flagged unauthenticated.
    scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return ""
    tenant = claims.get("tenant") if isinstance(claims, dict) else None
    return tenant if isinstance(tenant, str) and scheme.lower() == "bearer" else ""


def _schema_id(scope: Scope, headers: list[tuple[bytes, bytes]]) -> str | None:
    template = str(scope.get("path_template") or scope.get("path", ""))
    if "/schemas" not in template:  # another kind of id (a connector's, a token's)
        return None
    candidate = str(scope.get("path_params", {}).get("id", ""))
    for name, value in headers:
        if name.lower() == b"location":
            candidate = value.decode("latin-1").rsplit("/", 1)[-1]
    uuid = decode_schema_id(candidate) if candidate else None
    return encode_schema_id(uuid) if uuid else None
