"""``/internal/v1/audit``: the audit trail of the caller's tenant (auditors and admins)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import QueryParameter

from api.auth import principal_of
from api.bodies import pack_cursor, query_limit, split_page, unpack_cursor
from api.errors import QueryValidationError
from api.models import AuditEntry, AuditPage
from api.openapi import problems
from api.runtime import read, registry_of
from api.schemas import Cursor, Limit
from domain.errors import Violation
from domain.ids import decode_schema_id, encode_schema_id

Req = Request[Any, Any, Any]


def _before(cursor: str | None) -> tuple[str, str] | None:
    parts = unpack_cursor(cursor, "audit", 2)
    return None if parts is None else (parts[0], parts[1])


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
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> AuditPage:
        """Newest first; filter by actor and schema id; paginate with ``cursor``."""
        principal = principal_of(request)
        size = query_limit(limit)
        registry = registry_of(request)
        rows = await read(
            registry,
            lambda: registry.audit.page(
                principal.tenant,
                actor=actor,
                schema_id=_schema_filter(schema_id),
                before=_before(cursor),
                limit=size + 1,
            )
        )
        page, next_cursor = split_page(
            rows, size, lambda row: pack_cursor("audit", row["time"], row["id"])
        )
        entries = [msgspec.convert(row, AuditEntry) for row in page]
        return AuditPage(entries=entries, next_cursor=next_cursor)

