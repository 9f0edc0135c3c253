"""Schema routes: parse → command or query → respond. No business rules here."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from api.auth import principal_of
from api.bodies import (
    decode_cursor,
    etag,
    if_match_versions,
    is_number,
    json_body,
    none_match,
    pack_cursor,
    query_flag,
    query_limit,
    schema_uuid_param,
    split_page,
)
from api.models import (
    History,
    HistoryEntry,
    SchemaList,
    SchemaOut,
    WriteResult,
    schema_out,
)
from api.openapi import SchemaBodyOperation, problems
from api.runtime import read, registry_of, run
from domain.errors import (
    NOT_FOUND,
    SchemaDeletedError,
    SchemaErasedError,
    SchemaNotFoundError,
    SchemaVersionNotFoundError,
)
from domain.schema import SchemaState
from projections.schemas import SchemaRecord

T = TypeVar("T")
Req = Request[Any, Any, Any]
IdParam = Annotated[str, PathParameter(description="Schema id: sch_… or its UUID")]
CidParam = Annotated[str, PathParameter(description="Connector id of the schema")]
# Versions never change, but an erase may later destroy them: keep client caches short.
IfMatch = Annotated[
    str | None, HeaderParameter(name="If-Match", description='"<version>": 412 unless current')
]
IfNoneMatch = Annotated[
    str | None, HeaderParameter(name="If-None-Match", description='"<version>": 304 if current')
]
IncludeDeleted = Annotated[
    str | None,
    QueryParameter(
        name="includeDeleted", description="true: also soft-deleted schemas",
        pattern="^(true|false|1|0)$",
    ),
]
Limit = Annotated[
    str | None, QueryParameter(description="1 to 200, default 50", pattern="^[0-9]{1,3}$")
]
Cursor = Annotated[
    str | None, QueryParameter(description="nextCursor of the previous page", min_length=1)
]
IMMUTABLE = "private, max-age=3600, immutable"




def _result(state: SchemaState, status: str) -> WriteResult:
    name = state.content.name if state.content else ""
    return WriteResult(id=state.schema_id, name=name, status=status, version=state.revision)


def _visible(record: SchemaRecord | None, text_id: str, include_deleted: bool) -> SchemaRecord:
    if record is None:
        raise SchemaNotFoundError(NOT_FOUND)
    if record.status == "erased":
        raise SchemaErasedError(f"schema {record.schema_id} was erased")
    if record.status == "deleted" and not include_deleted:
        raise SchemaDeletedError(
            f"schema {record.schema_id} is deleted; add includeDeleted=true to read it"
        )
    return record


class SchemaController(Controller):
    """``/schemas``: list, read, history, versions, create, update, delete, restore, erase."""

    path = "/schemas"
    tags = ("schemas",)

    @get("/", responses=problems(401, 422), summary="List schemas")
    async def list_schemas(
        self,
        request: Req,
        connector_id: Annotated[str | None, QueryParameter(name="connectorId")] = None,
        entity_type: Annotated[str | None, QueryParameter(name="entityType")] = None,
        limit: Limit = None,
        cursor: Cursor = None,
        include_deleted: IncludeDeleted = None,
    ) -> SchemaList:
        """Schemas of the caller's tenant in id order, filtered and paginated."""
        principal = principal_of(request)
        page_size = query_limit(limit)
        registry = registry_of(request)
        rows = await read(
            registry,
            partial(
                registry.queries.page,
                principal.tenant,
                connector_id=connector_id,
                entity_type=entity_type,
                include_deleted=query_flag(include_deleted, "includeDeleted"),
                after=decode_cursor(cursor),
                limit=page_size + 1,
            )
        )
        page, next_cursor = split_page(rows, page_size, lambda r: pack_cursor("schemas", r["id"]))
        return SchemaList(schemas=[schema_out(row) for row in page], next_cursor=next_cursor)

    @get("/{id:str}", responses=problems(401, 404, 410, 422), summary="Get a schema")
    async def get_schema(
        self,
        request: Req,
        id: IdParam,
        include_deleted: IncludeDeleted = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[Any]:
        """The current schema; ``ETag`` is its version, ``If-None-Match`` answers 304."""
        principal = principal_of(request)
        uuid = schema_uuid_param(id)
        registry = registry_of(request)
        record = await read(registry, registry.queries.get, principal.tenant, uuid)
        record = _visible(record, id, query_flag(include_deleted, "includeDeleted"))
        headers = {"ETag": etag(record.version), "Cache-Control": "private, no-cache"}
        if none_match(if_none_match, record.version):
            return Response(None, status_code=304, headers=headers)
        assert record.document is not None
        return Response(schema_out(record.document), headers=headers)

    @get("/{id:str}/history", responses=problems(401, 404), summary="Schema change history")
    async def get_history(self, request: Req, id: IdParam) -> History:
        """Every version with who changed what and when, newest first."""
        principal = principal_of(request)
        uuid = schema_uuid_param(id)
        registry = registry_of(request)
        entries = await read(registry, registry.queries.history, principal.tenant, uuid)
        if not entries:
            raise SchemaNotFoundError(NOT_FOUND)
        return History(history=[msgspec.convert(e, HistoryEntry) for e in entries])

    @get(
        "/{id:str}/versions/{version:str}",
        responses=problems(401, 404, 410),
        summary="A schema exactly as it was at a version",
    )
    async def get_version(
        self, request: Req, id: IdParam, version: Annotated[str, PathParameter()]
    ) -> Response[SchemaOut]:
        """An immutable past version; erased versions answer 410."""
        principal = principal_of(request)
        uuid = schema_uuid_param(id)
        registry = registry_of(request)
        record = await read(registry, registry.queries.get, principal.tenant, uuid)
        if record is None:
            raise SchemaNotFoundError(NOT_FOUND)
        if not is_number(version, digits=9) or int(version) < 1:
            raise SchemaVersionNotFoundError(f"schema {record.schema_id} has no such version")
        document = await read(
            registry, registry.queries.version, principal.tenant, uuid, int(version)
        )
        if document is None:
            if int(version) <= record.erased_through:
                raise SchemaErasedError(f"version {version} of {record.schema_id} was erased")
            raise SchemaVersionNotFoundError(f"schema {record.schema_id} has no version {version}")
        headers = {"ETag": etag(int(version)), "Cache-Control": IMMUTABLE}
        return Response(schema_out(document), headers=headers)

    @post(
        "/",
        responses=problems(400, 401, 409, 413, 415, 422),
        summary="Create a schema",
        operation_class=SchemaBodyOperation,
    )
    async def create_schema(self, request: Req) -> Response[WriteResult]:
        """Create a schema; its id follows from tenant, connectorId and key."""
        principal = principal_of(request)
        document = await json_body(request)
        state = await run(registry_of(request).create_schema, principal.actor, document)
        headers = {"Location": f"{request.url.path.rstrip('/')}/{state.schema_id}",
                   "ETag": etag(state.revision)}
        return Response(_result(state, "created"), status_code=201, headers=headers)

    @put(
        "/{id:str}",
        responses=problems(400, 401, 404, 409, 410, 412, 413, 415, 422),
        summary="Replace a schema's name, entity type, fields and relationships",
        operation_class=SchemaBodyOperation,
    )
    async def update_schema(
        self, request: Req, id: IdParam, if_match: IfMatch = None
    ) -> Response[WriteResult]:
        """Full replacement; one new version, or ``unchanged`` when nothing differs."""
        principal = principal_of(request)
        uuid = schema_uuid_param(id)
        document = await json_body(request)
        state, changed = await run(
            registry_of(request).update_schema,
            principal.actor,
            uuid,
            document,
            if_match_versions(if_match),
        )
        result = _result(state, "updated" if changed else "unchanged")
        return Response(result, headers={"ETag": etag(state.revision)})

    @delete("/{cid:str}/{id:str}", responses=problems(401, 404, 410), summary="Delete a schema")
    async def delete_schema(self, request: Req, cid: CidParam, id: IdParam) -> None:
        """Soft delete: hidden from reads, history kept, restorable."""
        principal = principal_of(request)
        await run(registry_of(request).delete_schema, principal.actor, cid, schema_uuid_param(id))

    @post(
        "/{cid:str}/{id:str}/restore",
        status_code=200,
        responses=problems(401, 404, 409, 410),
        summary="Restore a deleted schema",
    )
    async def restore_schema(
        self, request: Req, cid: CidParam, id: IdParam
    ) -> WriteResult:
        """Bring a soft-deleted schema back as a new version."""
        principal = principal_of(request)
        state = await run(
            registry_of(request).restore_schema, principal.actor, cid, schema_uuid_param(id)
        )
        return _result(state, "restored")

    @delete(
        "/{cid:str}/{id:str}/erase",
        responses=problems(401, 404, 410),
        summary="Erase a schema and its data for good",
    )
    async def erase_schema(self, request: Req, cid: CidParam, id: IdParam) -> None:
        """Permanently destroy the schema's content; only an erase record remains."""
        principal = principal_of(request)
        await run(registry_of(request).erase_schema, principal.actor, cid, schema_uuid_param(id))

