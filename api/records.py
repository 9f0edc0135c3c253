"""Record routes: the records a schema's syncs collected, paged, filtered, read by key.

Records are sealed with their schema's key, so a filter can only be applied to opened rows:
one request opens at most :data:`MAX_SCAN` rows, then answers what it found with a cursor to
go on from (decision 28). A soft-deleted schema keeps its records but serves none until it is
restored; an erased one has none.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter
from litestar.types import Scope

from api.access import READERS, allow
from api.bodies import pack_cursor, schema_uuid_param, unpack_cursor
from api.models import Base
from api.openapi import problem, problems
from api.params import UNIVERSAL, Caller, Limit, SchemaId
from api.problems import PARAMETER_ALIASES, invalid_parameters
from api.runtime import read, run
from domain.errors import (
    NOT_FOUND,
    SchemaDeletedError,
    SchemaErasedError,
    SchemaNotFoundError,
    Violation,
)
from domain.ids import encode_schema_id
from domain.model import Field
from domain.record_query import RecordNotFoundError, parse_where
from registry.records import canonical_key
from registry.records import primary_key as key_of

MAX_SCAN = 5000
"""The most rows one list request opens (ten read chunks); then it answers with a cursor."""
MAX_TERMS = 20
RECORD_CURSOR = "record-list-cursor"
"""The format of a record list's opaque cursor: base64url of ``records|<sch_ id>|<hash>``."""
_HASH = re.compile("[0-9a-f]{64}")
_KEY_SEGMENT = len(f"{UNIVERSAL}/schemas/{{id}}/records".split("/"))
"""The index of the first segment of the primary key in the request's path split at ``/``."""

_UNKNOWN_SCHEMA = "Unknown schema id, or a soft-deleted schema (it serves no records)"

PARAMETER_ALIASES.update(record_cursor="cursor", primary_key="primaryKey")
KeyText = NamedDependency[str | None]
"""The primary key of the path as sent (dependency ``key``): see :func:`key_text`."""


class RecordOut(Base):
    """One collected record, with the primary key text that reads it back."""

    primary_key: str
    record: dict[str, Any]


class RecordList(Base):
    """A page of a schema's records."""

    records: list[RecordOut]
    next_cursor: str | None


Where = Annotated[
    list[str] | None,
    QueryParameter(description="`<field>:<value>`, repeatable (all must hold): only records"
                   " whose field equals the value, read as the field's type (the text itself"
                   " for string, date, datetime, uuid, email and url fields, JSON for the"
                   f" others). At most {MAX_TERMS}; an unknown field, a field named twice or a"
                   " value the field cannot hold answers 422 `/query/where`",
                   max_items=MAX_TERMS),
]
RecordCursor = Annotated[
    str | None,
    QueryParameter(name="cursor", description="The `nextCursor` of the previous page of this"
                   " schema's records (opaque); any other value answers 422",
                   schema_extra={"format": RECORD_CURSOR}),
]
PrimaryKey = Annotated[
    str,
    PathParameter(description="The record's `primaryKey`: the primary field's value as JSON"
                  ' (`"u1"`, `42`), or the primary fields\' values as a JSON array in field'
                  ' order (`[42,"eu"]`), percent-encoded; a key no record has answers 404',
                  min_length=1),
]


def key_text(scope: Scope, primary_key: PrimaryKey) -> str | None:
    """The primary key as sent, slashes and all: from the raw path, which the router's
    decoded path may have normalised (``//`` in a URL key). ``None`` when not UTF-8."""
    raw = scope.get("raw_path")
    if not raw:
        return primary_key.removeprefix("/")
    parts = raw.split(b"?", 1)[0].split(b"/", _KEY_SEGMENT)
    if len(parts) <= _KEY_SEGMENT or parts[_KEY_SEGMENT - 1] != b"records":
        return primary_key.removeprefix("/")
    try:
        return unquote_to_bytes(parts[_KEY_SEGMENT]).decode()
    except UnicodeDecodeError:
        return None


def _serving(caller: Caller, uuid: UUID) -> tuple[Field, ...]:
    """The fields of a schema that serves records: 404 when unknown or soft-deleted, 410
    when erased."""
    state = caller.registry.queries.get(caller.tenant, uuid)
    if state is not None and state.erased:
        raise SchemaErasedError(f"schema {encode_schema_id(uuid)} was erased")
    if state is None or state.content is None:
        raise SchemaNotFoundError(NOT_FOUND)
    if state.deleted:
        raise SchemaDeletedError(f"schema {encode_schema_id(uuid)} is deleted; its records are"
                                 " served again once it is restored")
    return state.content.fields


def _after(cursor: str | None, uuid: UUID) -> str | None:
    """The key hash a record-list cursor of this schema points after (422 for anything else)."""
    parts = unpack_cursor(cursor, "records", 2)
    if parts is None:
        return None
    if parts[0] != encode_schema_id(uuid) or not _HASH.fullmatch(parts[1]):
        raise invalid_parameters([Violation("/query/cursor", "not a cursor of this list")])
    return parts[1]


class RecordController(Controller):
    """``/schemas/{id}/records``: a schema's collected records, and one by primary key."""

    path = "/schemas/{id:str}/records"
    tags = ("records",)

    @get("/", responses=problems(401, 403, 410) | problem(404, _UNKNOWN_SCHEMA) | problem(
        422, "A `where` term names no field of the schema or a value it cannot hold, or a bad"
        " `limit` or `cursor`"), summary="List a schema's records",
         opt=allow(READERS))
    async def list_records(
        self,
        caller: Caller,
        id: SchemaId,
        where: Where = None,
        limit: Limit = 50,
        record_cursor: RecordCursor = None,
    ) -> RecordList:
        """Records in a stable order, filtered by field equality, ``limit`` at a time; a page
        may end early (even empty) with a ``nextCursor`` after :data:`MAX_SCAN` rows."""
        uuid = schema_uuid_param(id)
        fields = await read(caller.registry, _serving, caller, uuid)
        wanted = parse_where(fields, where or [])
        after = _after(record_cursor, uuid)
        page = await run(caller.registry.records.page, uuid, limit=limit, cursor=after,
                         where=wanted, scan=MAX_SCAN)
        primary = [f.name for f in fields if f.primary]
        records = [RecordOut(key_of(r, primary), r) for r in page.records]
        next_cursor = (None if page.next_cursor is None
                       else pack_cursor("records", encode_schema_id(uuid), page.next_cursor))
        return RecordList(records=records, next_cursor=next_cursor)

    @get("/{primary_key:path}", responses=problems(401, 403, 410) | problem(
        404, f"{_UNKNOWN_SCHEMA}, or no record has this primary key"),
         summary="A record by its primary key", opt=allow(READERS),
         dependencies={"key": Provide(key_text, sync_to_thread=False)})
    async def get_record(self, caller: Caller, id: SchemaId, key: KeyText) -> RecordOut:
        """The record whose primary key is the path's (any JSON spelling of it)."""
        uuid = schema_uuid_param(id)
        await read(caller.registry, _serving, caller, uuid)
        text = None if key is None else canonical_key(key)
        record = None if text is None else await run(caller.registry.records.get, uuid, text)
        if text is None or record is None:
            raise RecordNotFoundError(f"schema {encode_schema_id(uuid)} has no record with"
                                      " this primary key")
        return RecordOut(primary_key=text, record=record)
