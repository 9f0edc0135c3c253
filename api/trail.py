"""``/internal/v1/audit``: the audit trail of the caller's tenant (auditors and admins)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from api.access import AUDITORS, allow
from api.bodies import pack_cursor, split_page, unpack_cursor
from api.models import AuditPage, audit_entry
from api.openapi import problems
from api.params import INTERNAL, AuditCursor, Caller, Limit, SchemaIdFilter
from api.problems import invalid_parameters
from api.runtime import read
from domain.errors import Violation
from domain.ids import decode_schema_id, encode_schema_id


def _before(cursor: str | None) -> tuple[str, str] | None:
    parts = unpack_cursor(cursor, "audit", 2)
    return None if parts is None else (parts[0], parts[1])


def _schema_filter(value: str | None) -> str | None:
    if value is None:
        return None
    uuid = decode_schema_id(value)
    if uuid is None:
        raise invalid_parameters([Violation("/query/schemaId", "not a schema id")])
    return encode_schema_id(uuid)


class AuditController(Controller):
    """Who did what, when, and what was refused."""

    path = f"{INTERNAL}/audit"
    tags = ("audit",)

    @get("/", responses=problems(401, 403, 422), summary="Read the audit trail",
         opt=allow(AUDITORS))
    async def audit(
        self,
        caller: Caller,
        actor: Annotated[str | None, QueryParameter(description="subject or e-mail")] = None,
        schema_id: SchemaIdFilter = None,
        limit: Limit = 50,
        cursor: AuditCursor = None,
    ) -> AuditPage:
        """Newest first; filter by actor and schema id; paginate with ``cursor``."""
        rows = await read(
            caller.registry, caller.registry.audit.page, caller.tenant, actor=actor,
            schema_id=_schema_filter(schema_id), before=_before(cursor), limit=limit + 1,
        )
        page, next_cursor = split_page(
            rows, limit, lambda row: pack_cursor("audit", row["recorded_at"], row["id"])
        )
        return AuditPage(entries=[audit_entry(row) for row in page], next_cursor=next_cursor)
