"""Documentation pages (seed 000's ``/docs`` and ``/docs/:id``): parse → query → respond.

Every page is built on each read from the live registry: the catalogue for a type page, the
connector, schema and script-version read models for a connector page, the collector guide
shipped with the package. Nothing is cached, so a schema change is on its connector's page the
next time it is read. A connector page follows the connector read rule (tenant and
visibility); an unknown id, another tenant's connector, a hidden, a deleted or an erased one
all answer the same 404 ``doc-not-found``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get

from api.access import READERS, Caller, allow
from api.bodies import pack_cursor, split_page, unpack_cursor
from api.connectors import current, visible_page
from api.models import Base
from api.openapi import HtmlAlternativeOperation, entity_responses, problem, problems
from api.pages import (
    CONNECTOR_PREFIX,
    CONTENT_SECURITY_POLICY,
    GUIDE_ID,
    connector_markdown,
    connector_page_id,
    connector_title,
    guide_markdown,
    guide_title,
    render_html,
    type_markdown,
    type_page_id,
)
from api.params import Caller as CallerParam
from api.params import DocCursor, DocId, Limit
from api.problems import Problem, invalid_parameters
from api.runtime import run
from domain.common import iso_timestamp
from domain.connectors.catalogue import list_types
from domain.connectors.errors import (
    ConnectorDeletedError,
    ConnectorErasedError,
    ConnectorNotFoundError,
)
from domain.connectors.ids import decode_connector_id, encode_connector_id
from domain.connectors.state import ConnectorState
from domain.errors import Violation
from domain.schema import SchemaState
from domain.scripts.versions import ScriptVersionsState

JSON = "application/json"
HTML = "text/html"
CURRENT = "private, no-cache"
SCHEMA_BATCH = 500
GONE = (ConnectorNotFoundError, ConnectorDeletedError, ConnectorErasedError)
"""A connector page is only ever served for a live connector the caller may see."""


class DocOut(Base):
    """A page as the list names it. ``connectorId`` only on connector pages; ``updatedAt``
    the latest change of what a connector page shows, ``null`` on the pages built from the
    registry's own code (types and the guide), which change only with a release."""

    id: str
    title: str
    kind: str
    connector_id: str | None
    updated_at: str | None


class DocList(Base):
    """A page of the documentation list: the guide, the connector types, then the
    connectors the caller may see in id order."""

    docs: list[DocOut]
    next_cursor: str | None


class DocPage(Base):
    """One page: its Markdown (CommonMark with GFM tables)."""

    id: str
    title: str
    format: str
    content: str


def not_found() -> Problem:
    """The one answer for every page id that names nothing the caller may read."""
    return Problem(404, "doc-not-found", "Documentation page not found",
                   "no documentation page with this id")


def _static_pages() -> list[DocOut]:
    """The pages the registry's own code makes: the guide, then one per catalogue type."""
    guide = DocOut(id=GUIDE_ID, title=guide_title(), kind="guide", connector_id=None,
                   updated_at=None)
    return [guide] + [DocOut(id=type_page_id(entry), title=entry.name, kind="connector-type",
                             connector_id=None, updated_at=None) for entry in list_types()]


def _connector_schemas(caller: Caller, state: ConnectorState,
                       include_deleted: bool = False) -> list[SchemaState]:
    """Every schema of the connector (live ones unless ``include_deleted``), in id order."""
    found: list[SchemaState] = []
    after: str | None = None
    while True:
        batch = caller.registry.queries.page(
            caller.tenant, connector_id=state.connector_id, entity_type=None,
            include_deleted=include_deleted, after=after, limit=SCHEMA_BATCH)
        found += batch
        if len(batch) < SCHEMA_BATCH:
            return found
        after = batch[-1].schema_id


def _updated_at(state: ConnectorState, schemas: list[SchemaState],
                versions: ScriptVersionsState) -> str | None:
    """The latest change of the connector, its schemas (a deletion too) and its script
    versions: when what its page shows last changed."""
    moments: list[datetime] = [m for m in (state.updated_at, versions.updated_at)
                               if m is not None]
    for schema in schemas:
        moments += [m for m in (schema.updated_at, schema.deleted_at) if m is not None]
    return iso_timestamp(max(moments)) if moments else None


def _connector_entry(caller: Caller, state: ConnectorState) -> DocOut:
    schemas = _connector_schemas(caller, state, include_deleted=True)
    versions = caller.registry.app.script_versions(caller.access, state.id)
    return DocOut(id=connector_page_id(state), title=connector_title(state), kind="connector",
                  connector_id=state.connector_id,
                  updated_at=_updated_at(state, schemas, versions))


def _connector_page(caller: Caller, uuid: UUID) -> DocPage:
    try:
        state = current(caller.registry.connectors, caller, uuid)
        tools = caller.registry.app.connector_tools(caller.access, uuid)
        versions = caller.registry.app.script_versions(caller.access, uuid)
    except GONE:
        raise not_found() from None
    schemas = _connector_schemas(caller, state)
    return DocPage(id=connector_page_id(state), title=connector_title(state),
                   format="markdown",
                   content=connector_markdown(state, schemas, tools, versions))


def _page(caller: Caller, id: str) -> DocPage:
    if id == GUIDE_ID:
        return DocPage(id=id, title=guide_title(), format="markdown", content=guide_markdown())
    for entry in list_types():
        if id == type_page_id(entry):
            return DocPage(id=id, title=entry.name, format="markdown",
                           content=type_markdown(entry))
    if id.startswith(CONNECTOR_PREFIX):
        uuid = decode_connector_id(id.removeprefix(CONNECTOR_PREFIX))
        if uuid is not None:
            return _connector_page(caller, uuid)
    raise not_found()


def _after(cursor: str | None) -> tuple[list[DocOut], str | None]:
    """The pages of the registry's own code still to list, and the connector id to list
    connectors after, for a list cursor (422 for anything that is not one)."""
    static = _static_pages()
    parts = unpack_cursor(cursor, "docs", 1)
    if parts is None:
        return static, None
    ids = [page.id for page in static]
    if parts[0] in ids:
        return static[ids.index(parts[0]) + 1:], None
    uuid = decode_connector_id(parts[0].removeprefix(CONNECTOR_PREFIX))
    if (parts[0].startswith(CONNECTOR_PREFIX) and uuid is not None
            and parts[0] == CONNECTOR_PREFIX + encode_connector_id(uuid)):
        return [], encode_connector_id(uuid)
    raise invalid_parameters([Violation("/query/cursor", "not a cursor of this API")])


def _listing(caller: Caller, cursor: str | None, limit: int) -> DocList:
    static, after = _after(cursor)
    entries: list[DocOut | ConnectorState] = list(static[: limit + 1])
    if len(entries) <= limit:
        entries += visible_page(caller.registry.connectors, caller, {}, after,
                                limit - len(entries))
    page, next_cursor = split_page(entries, limit, lambda e: pack_cursor("docs", _id_of(e)))
    return DocList(docs=[e if isinstance(e, DocOut) else _connector_entry(caller, e)
                         for e in page], next_cursor=next_cursor)


def _id_of(entry: DocOut | ConnectorState) -> str:
    return entry.id if isinstance(entry, DocOut) else connector_page_id(entry)


class DocController(Controller):
    """``/docs`` and ``/docs/{id}``."""

    path = "/docs"
    tags = ("docs",)

    @get("/", responses=problems(401, 403, 422), summary="List documentation pages",
         opt=allow(READERS))
    async def list_docs(self, caller: CallerParam, limit: Limit = 50,
                        doc_cursor: DocCursor = None) -> DocList:
        """The collector guide, one page per connector type, then one per connector of the
        tenant the caller may see (deleted ones not), paged like the other lists."""
        listing: DocList = await run(_listing, caller, doc_cursor, limit)
        return listing

    @get("/{id:str}", responses=problems(401, 403)
         | entity_responses(DocPage, "The page: JSON, or an HTML document with `Accept:"
                            " text/html`")
         | problem(404, "No page of this id the caller may read: unknown, another"
                        " tenant's, hidden, deleted or erased connectors alike"),
         summary="Get a documentation page", operation_class=HtmlAlternativeOperation,
         opt=allow(READERS))
    async def get_doc(self, caller: CallerParam, request: Request[Any, Any, Any],
                      id: DocId) -> Response[Any]:
        """The page as ``{id, title, format: "markdown", content}``; with ``Accept: text/html``
        (preferred over JSON) a complete HTML document of it. Any other ``Accept`` gets JSON."""
        # Connector pages read the event store too: off the event loop. The others are code.
        page: DocPage = (await run(_page, caller, id) if id.startswith(CONNECTOR_PREFIX)
                         else _page(caller, id))
        headers = {"Cache-Control": CURRENT, "Vary": "Accept"}
        if request.accept.best_match([JSON, HTML], default=JSON) == HTML:
            return Response(render_html(page.title, page.content), media_type=HTML,
                            headers={**headers, "Content-Security-Policy":
                                     CONTENT_SECURITY_POLICY,
                                     "X-Content-Type-Options": "nosniff"})
        return Response(page, headers=headers)
