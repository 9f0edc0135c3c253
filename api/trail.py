"""``/internal/v1/audit``: the audit trail of the caller's tenant (auditors and admins)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter

from api.auth import principal_of
from api.bodies import query_limit
from api.errors import QueryValidationError
from api.models import AuditEntry, AuditPage
from api.openapi import problems
from api.schemas import registry_of, run
from domain.errors import Violation
from domain.ids import decode_schema_id, encode_schema_id

Req = Request[Any, Any, Any]
Query = Annotated[str | None, QueryParameter()]


def _cursor(entry: dict[str, Any]) -> str:
    text = f"a1|{entry['time']}|{entry['id']}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _before(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    parts = text.split("|")
    if len(parts) != 3 or parts[0] != "a1":
        raise QueryValidationError([Violation("/query/cursor", "not a cursor of this API")])
    return parts[1], parts[2]


def _schema_filter(value: str | None) -> str | None:
    if value is None:
        return None
    uuid = decode_schema_id(value)
    if uuid is None:
        raise QueryValidationError([Violation("/query/schemaId", "not a schema id")])
    return encode_schema_id(uuid)


class AuditController(Controller):
    """Who did what, when, and what was refused."""

    path = "/internal/v1/audit"
    tags = ("audit",)

    @get("/", responses=problems(401, 403, 422), summary="Read the audit trail")
    async def audit(
        self,
        request: Req,
        actor: Annotated[str | None, QueryParameter(description="subject or e-mail")] = None,
        schema_id: Annotated[str | None, QueryParameter(name="schemaId")] = None,
        limit: Query = None,
        cursor: Query = None,
    ) -> AuditPage:
        """Newest first; filter by actor and schema id; paginate with ``cursor``."""
        principal = principal_of(request)
        size = query_limit(limit)
        rows = await run(
            lambda: registry_of(request).audit.page(
                principal.tenant,
                actor=actor,
                schema_id=_schema_filter(schema_id),
                before=_before(cursor),
                limit=size + 1,
            )
        )
        page = rows[:size]
        next_cursor = _cursor(page[-1]) if len(rows) > size else None
        entries = [AuditEntry(**{_SNAKE.get(k, k): v for k, v in row.items()}) for row in page]
        return AuditPage(entries=entries, next_cursor=next_cursor)


_SNAKE = {"appId": "app_id", "schemaId": "schema_id"}
