"""Schema routes: parse → command or query → respond. No business rules here."""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, get, post, put

from api.access import ADMINS, AUDITORS, EDITORS, READERS, allow
from api.bodies import (
    decode_cursor,
    etag,
    if_match_versions,
    none_match,
    pack_cursor,
    schema_uuid_param,
    split_page,
)
from api.evolution import (
    AsOf,
    DiffOut,
    Fingerprint,
    FromVersion,
    ToVersion,
    diff_out,
    moment_at,
    parse_as_of,
    state_at,
)
from api.models import (
    CompatibilityReport,
    CompatibilityViolation,
    History,
    SchemaList,
    WriteResult,
    history_entry,
    schema_out,
    write_result,
)
from api.openapi import (
    CreateBodyOperation,
    SchemaBodyOperation,
    entity_responses,
    problem,
    problems,
    schema_responses,
)
from api.params import (
    UNIVERSAL,
    Caller,
    CompatibilityMode,
    ConnectorFilter,
    ConnectorId,
    Cursor,
    EntityTypeFilter,
    IfMatch,
    IfNoneMatch,
    IncludeDeleted,
    JsonBody,
    Limit,
    SchemaId,
    Version,
)
from api.runtime import past_version, read, run
from domain.connectors.ids import canonical_connector_id
from domain.errors import (
    NOT_FOUND,
    SchemaDeletedError,
    SchemaErasedError,
    SchemaNotFoundError,
    SchemaVersionNotFoundError,
)
from domain.ids import encode_schema_id
from projections.schemas import SchemaHead
from projections.timeline import PageFilter

# Versions never change, but an erase may later destroy them: keep client caches short.
IMMUTABLE = "private, max-age=3600, immutable"
CURRENT = "private, no-cache"
JSON = "application/json"
SCHEMA_PATH = f"{UNIVERSAL}/schemas"


class EncodedSchemas:
    """The encoded body of each schema's current version, at most ``size`` schemas.

    Every read first looks up the schema's current version and status in the read model (one
    indexed query on committed state), so a body is only ever served for the version that is
    current right now, in any process. A newer version replaces the body it kept; a read that
    finds the schema deleted or erased drops it.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._bodies: OrderedDict[UUID, tuple[int, bytes]] = OrderedDict()

    def get(self, uuid: UUID, version: int) -> bytes | None:
        """The body of that version, if it is the one kept."""
        kept = self._bodies.get(uuid)
        return kept[1] if kept is not None and kept[0] == version else None

    def put(self, uuid: UUID, version: int, body: bytes) -> None:
        """Keep a body; the least recently stored schema goes when full."""
        self._bodies[uuid] = (version, body)
        self._bodies.move_to_end(uuid)
        if len(self._bodies) > self.size:
            self._bodies.popitem(last=False)

    def drop(self, uuid: UUID) -> None:
        """Forget a schema's body (it was deleted or erased)."""
        self._bodies.pop(uuid, None)


def _visible(uuid: UUID, head: SchemaHead | None, include_deleted: bool) -> SchemaHead:
    if head is None:
        raise SchemaNotFoundError(NOT_FOUND)
    if head.status == "erased":
        raise SchemaErasedError(f"schema {encode_schema_id(uuid)} was erased")
    if head.status == "deleted" and not include_deleted:
        raise SchemaDeletedError(
            f"schema {encode_schema_id(uuid)} is deleted; add includeDeleted=true to read it"
        )
    return head


async def schema_page(
    caller: Caller, connector_id: str | None, entity_type: str | None, limit: int,
    cursor: str | None, include_deleted: bool, fingerprint: str | None = None,
) -> SchemaList:
    """One page of the schema list: the tenant's schemas in id order, filtered (by the
    ``cnn_`` form of a connector id), at most ``limit``, after the cursor's id.

    Both schema lists answer it: ``/schemas`` and a connector's ``/connectors/{id}/schemas``.
    """
    states = await read(
        caller.registry, caller.registry.queries.page, caller.tenant,
        connector_id=connector_id, entity_type=entity_type, include_deleted=include_deleted,
        after=decode_cursor(cursor), limit=limit + 1, fingerprint=fingerprint,
    )
    page, next_cursor = split_page(states, limit, lambda s: pack_cursor("schemas", s.schema_id))
    return SchemaList(schemas=[schema_out(s) for s in page], next_cursor=next_cursor)


class SchemaController(Controller):
    """``/schemas``: list, read, history, versions, create, update, delete, restore, erase."""

    path = "/schemas"
    tags = ("schemas",)

    def __init__(self, owner: Any) -> None:
        super().__init__(owner)
        self.bodies = EncodedSchemas()

    @get("/", responses=problems(401, 403, 422), summary="List schemas", opt=allow(READERS))
    async def list_schemas(
        self,
        caller: Caller,
        connector_id: ConnectorFilter = None,
        entity_type: EntityTypeFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        include_deleted: IncludeDeleted = False,
        fingerprint: Fingerprint = None,
        as_of: AsOf = None,
    ) -> SchemaList:
        """Schemas of the caller's tenant in id order, filtered and paginated (as they were at
        ``asOf``)."""
        connector = None if connector_id is None else canonical_connector_id(connector_id)
        at = parse_as_of(as_of)
        if at is None:
            return await schema_page(caller, connector, entity_type, limit, cursor,
                                     include_deleted, fingerprint)
        where = PageFilter(connector, entity_type, fingerprint, include_deleted)
        states = await read(caller.registry, caller.registry.queries.page_at, caller.tenant,
                            at, where, decode_cursor(cursor), limit + 1)
        page, next_cursor = split_page(
            states, limit, lambda s: pack_cursor("schemas", s.schema_id))
        return SchemaList(schemas=[schema_out(s) for s in page], next_cursor=next_cursor)

    @get("/{id:str}", responses=problems(401, 403, 404, 410, 422) | schema_responses(
        not_modified=True), summary="Get a schema",
         opt=allow(READERS))
    async def get_schema(
        self,
        caller: Caller,
        id: SchemaId,
        include_deleted: IncludeDeleted = False,
        if_none_match: IfNoneMatch = None,
        as_of: AsOf = None,
    ) -> Response[bytes]:
        """The current schema (or the one current at ``asOf``); ``ETag`` is its version,
        ``If-None-Match`` answers 304."""
        uuid = schema_uuid_param(id)
        at = parse_as_of(as_of)
        if at is not None:
            return await _document_at(caller, uuid, at, include_deleted, if_none_match)
        head = await read(caller.registry, caller.registry.queries.head, caller.tenant, uuid)
        if head is not None and head.status != "active":
            self.bodies.drop(uuid)
        version = _visible(uuid, head, include_deleted).version
        headers = {"ETag": etag(version), "Cache-Control": CURRENT}
        if none_match(if_none_match, version):
            return Response(b"", status_code=304, headers=headers)
        body = self.bodies.get(uuid, version)
        if body is None:
            state = await read(caller.registry, caller.registry.queries.get, caller.tenant, uuid)
            if state is None or not state.exists:
                raise SchemaNotFoundError(NOT_FOUND)
            body = msgspec.json.encode(schema_out(state))
            self.bodies.put(uuid, state.revision, body)
            headers["ETag"] = etag(state.revision)
        return Response(body, media_type=JSON, headers=headers)

    @get("/{id:str}/history", responses=problems(401, 403, 404, 410, 422),
         summary="Schema change history", opt=allow(AUDITORS))
    async def get_history(self, caller: Caller, id: SchemaId, as_of: AsOf = None) -> History:
        """Every version with who changed what and when, newest first (up to ``asOf``)."""
        uuid = schema_uuid_param(id)
        queries = caller.registry.queries
        at = parse_as_of(as_of)
        through = None if at is None else (await moment_at(caller, uuid, at)).version
        revisions = await read(caller.registry, queries.history, caller.tenant, uuid, through)
        if not revisions:
            raise SchemaNotFoundError(NOT_FOUND)
        return History(history=[history_entry(r) for r in revisions])

    @get("/{id:str}/versions/{version:str}",
         responses=problems(401, 403, 404, 410) | schema_responses(),
         summary="A schema exactly as it was at a version", opt=allow(READERS))
    async def get_version(
        self, caller: Caller, id: SchemaId, version: Version
    ) -> Response[Any]:
        """An immutable past version; erased versions answer 410."""
        uuid = schema_uuid_param(id)
        head = await read(caller.registry, caller.registry.queries.head, caller.tenant, uuid)
        if head is None:
            raise SchemaNotFoundError(NOT_FOUND)
        state = await past_version(
            caller.registry, partial(caller.registry.queries.version, caller.tenant, uuid),
            version, kind="schema", public_id=encode_schema_id(uuid),
            erased_through=head.erased_through, missing=SchemaVersionNotFoundError,
            erased=SchemaErasedError)
        headers = {"ETag": etag(int(version)), "Cache-Control": IMMUTABLE}
        return Response(schema_out(state), headers=headers)

    @get("/{id:str}/diff", responses=problems(401, 403, 404, 410, 422),
         summary="What changed between two versions of a schema", opt=allow(READERS))
    async def get_diff(
        self, caller: Caller, id: SchemaId, from_version: FromVersion = None,
        to_version: ToVersion = None,
    ) -> DiffOut:
        """Typed changes and history texts from one version to another (default: the previous
        version to the current one); an erased version answers 410."""
        uuid = schema_uuid_param(id)
        head = await read(caller.registry, caller.registry.queries.head, caller.tenant, uuid)
        if head is None:
            raise SchemaNotFoundError(NOT_FOUND)
        target = head.version if to_version is None else to_version
        source = max(target - 1, 1) if from_version is None else from_version
        states = [
            await past_version(
                caller.registry, partial(caller.registry.queries.version, caller.tenant, uuid),
                str(number), kind="schema", public_id=encode_schema_id(uuid),
                erased_through=head.erased_through, missing=SchemaVersionNotFoundError,
                erased=SchemaErasedError)
            for number in (source, target)
        ]
        return diff_out(states[0], states[1])

    @post("/", responses=problems(400, 401, 403, 409, 413, 415, 422) | entity_responses(
        WriteResult, "The key exists with identical content: `unchanged`, nothing recorded"),
          summary="Create a schema", operation_class=CreateBodyOperation, opt=allow(EDITORS))
    async def create_schema(
        self, caller: Caller, document: JsonBody
    ) -> Response[WriteResult]:
        """Create a schema; its id follows from tenant, connectorId and key. The same create
        again (identical content) answers 200 ``unchanged``."""
        state, created = await run(caller.registry.app.register_schema, caller.access, document)
        headers = {"Location": f"{SCHEMA_PATH}/{state.schema_id}", "ETag": etag(state.revision)}
        if not created:
            return Response(write_result(state, "unchanged"), status_code=200, headers=headers)
        return Response(write_result(state, "created"), status_code=201, headers=headers)

    @put("/{id:str}", responses=problems(400, 401, 403, 404, 410, 412, 413, 415, 422) | problem(
        409, "`incompatible`: the document breaks the schema's effective compatibility mode"
        " (after this PUT), its `violations` say where; nothing is recorded. Or"
        " `concurrent-write`: another request changed the schema at the same time"),
         summary="Replace a schema's name, entity type, fields and relationships",
         operation_class=SchemaBodyOperation, opt=allow(EDITORS))
    async def update_schema(
        self, caller: Caller, document: JsonBody, id: SchemaId,
        if_match: IfMatch = None,
    ) -> Response[WriteResult]:
        """Full replacement; one new version, or ``unchanged`` when nothing differs."""
        state, changed = await run(
            caller.registry.app.update_schema, caller.access, schema_uuid_param(id), document,
            if_match_versions(if_match),
        )
        result = write_result(state, "updated" if changed else "unchanged")
        return Response(result, headers={"ETag": etag(state.revision)})

    @post("/{id:str}/compatibility", status_code=200,
          responses=problems(400, 401, 403, 404, 410, 413, 415, 422),
          summary="Check whether a document could replace a schema (dry run)",
          operation_class=SchemaBodyOperation, opt=allow(EDITORS))
    async def check_compatibility(
        self, caller: Caller, document: JsonBody, id: SchemaId, mode: CompatibilityMode = None,
    ) -> CompatibilityReport:
        """The violations of the mode and the changes the document would make; records
        nothing."""
        report = await run(
            caller.registry.app.check_schema_compatibility, caller.access,
            schema_uuid_param(id), document, mode,
        )
        return CompatibilityReport(
            compatible=report.compatible,
            mode=report.mode.value,
            violations=[CompatibilityViolation(**v.to_dict()) for v in report.violations],
            changes=report.changes,
        )

    @delete("/{cid:str}/{id:str}", responses=problems(401, 403, 404, 409, 410),
            summary="Delete a schema", opt=allow(EDITORS))
    async def delete_schema(
        self, caller: Caller, cid: ConnectorId, id: SchemaId
    ) -> None:
        """Soft delete: hidden from reads, history kept, restorable."""
        await run(caller.registry.app.delete_schema, caller.access, cid, schema_uuid_param(id))

    @post("/{cid:str}/{id:str}/restore", status_code=200,
          responses=problems(401, 403, 404, 409, 410), summary="Restore a deleted schema",
          opt=allow(EDITORS))
    async def restore_schema(
        self, caller: Caller, cid: ConnectorId, id: SchemaId
    ) -> WriteResult:
        """Bring a soft-deleted schema back as a new version."""
        state = await run(caller.registry.app.restore_schema, caller.access, cid,
                          schema_uuid_param(id))
        return write_result(state, "restored")

    @delete("/{cid:str}/{id:str}/erase", responses=problems(401, 403, 404, 409, 410),
            summary="Erase a schema and its data for good", opt=allow(ADMINS))
    async def erase_schema(
        self, caller: Caller, cid: ConnectorId, id: SchemaId
    ) -> None:
        """Permanently destroy the schema's content; only an erase record remains."""
        await run(caller.registry.app.erase_schema, caller.access, cid, schema_uuid_param(id))



async def _document_at(caller: Caller, uuid: UUID, at: str, include_deleted: bool,
                       if_none_match: str | None) -> Response[bytes]:
    """``GET …/schemas/{id}?asOf=``: the document current then, under the plain read's rules."""
    state = await state_at(caller, uuid, at)
    status = "deleted" if state.deleted else "active"
    _visible(uuid, SchemaHead(state.revision, status, 0), include_deleted)
    headers = {"ETag": etag(state.revision), "Cache-Control": CURRENT}
    if none_match(if_none_match, state.revision):
        return Response(b"", status_code=304, headers=headers)
    return Response(msgspec.json.encode(schema_out(state)), media_type=JSON, headers=headers)

