"""Connector routes: parse → command or query → respond. No business rules here.

Reads go to the connector read models and apply the domain's visibility rule (``can_see``)
with the caller's roles; writes go to the application's connector commands, which decide
every rule (owner or admin, names, cascade) in one atomic save.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any
from uuid import UUID

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.openapi.datastructures import ResponseSpec

from api.access import ADMINS, AUDITORS, EDITORS, READERS, Caller, allow
from api.bodies import (
    connector_uuid_param,
    decode_connector_cursor,
    etag,
    flag_param,
    if_match_versions,
    none_match,
    pack_cursor,
    split_page,
)
from api.models import (
    ConnectorList,
    ConnectorOut,
    History,
    SchemaList,
    connector_out,
    history_entry,
)
from api.openapi import (
    ConnectorBodyOperation,
    ConnectorCreateOperation,
    ConnectorPatchOperation,
    CredentialsBodyOperation,
    connector_responses,
    problem,
    problems,
)
from api.params import (
    INTERNAL,
    Cascade,
    ConnectorCursor,
    ConnectorPathId,
    Cursor,
    EnabledFilter,
    EntityTypeFilter,
    IfMatch,
    IfNoneMatch,
    IncludeDeletedConnectors,
    IncludeDeletedSchemas,
    JsonBody,
    Limit,
    OAuthKey,
    ProviderFilter,
    ScopeFilter,
    TagFilter,
    TypeFilter,
    Version,
)
from api.params import Caller as CallerParam
from api.runtime import past_version, read, run
from api.schemas import schema_page
from domain.connectors.access import can_see
from domain.connectors.document import server_stamped
from domain.connectors.errors import (
    CONNECTOR_NOT_FOUND,
    ConnectorDeletedError,
    ConnectorErasedError,
    ConnectorNotFoundError,
    ConnectorValidationError,
    ConnectorVersionNotFoundError,
)
from domain.connectors.ids import encode_connector_id
from domain.connectors.state import ConnectorState
from projections.connectors import ConnectorQueries
from registry.service import Registry

CONNECTOR_PATH = f"{INTERNAL}/connectors"
CURRENT = "private, no-cache"
IMMUTABLE = "private, max-age=3600, immutable"


def sees(caller: Caller, state: ConnectorState) -> bool:
    """Whether the caller may see the connector (the domain's ``can_see``)."""
    return can_see(state, caller.principal.subject, caller.principal.groups,
                   caller.principal.roles)


def visible_page(
    queries: ConnectorQueries, caller: Caller, filters: dict[str, Any], after: str | None,
    limit: int,
) -> list[ConnectorState]:
    """Up to ``limit + 1`` connectors the caller may see, in id order after ``after``.

    Rows the caller may not see are skipped, so a page keeps reading until it is full or the
    tenant has no more connectors.
    """
    found: list[ConnectorState] = []
    while True:
        rows = queries.page(caller.tenant, after=after, limit=limit + 1, **filters)
        found += [state for state in rows if sees(caller, state)]
        if len(found) > limit or len(rows) <= limit:
            return found[: limit + 1]
        after = rows[-1].connector_id


def current(queries: ConnectorQueries, caller: Caller, uuid: UUID,
            include_deleted: bool = False) -> ConnectorState:
    """The current state of a connector the caller may see.

    Unknown ids, another tenant's and hidden ones answer the same 404; an erased connector
    answers 410; a deleted one 404 ``connector-deleted`` unless asked for.
    """
    state = queries.get(caller.tenant, uuid)
    if state is None:
        raise ConnectorNotFoundError(CONNECTOR_NOT_FOUND)
    if state.erased:
        raise ConnectorErasedError(f"connector {state.connector_id} was erased")
    if not sees(caller, state):
        raise ConnectorNotFoundError(CONNECTOR_NOT_FOUND)
    if state.deleted and not include_deleted:
        raise ConnectorDeletedError(
            f"connector {state.connector_id} is deleted; add includeDeleted=true to read it")
    return state


def _changed_responses() -> dict[int, ResponseSpec]:
    """The answers of a change with a body and ``If-Match``: the connector, or a problem."""
    return problems(400, 401, 403, 404, 409, 410, 412, 413, 415, 422) | connector_responses()


_OAUTH_KEY_UNUSABLE = problem(408, "The oauth-key is unknown, used, older than ten minutes, or"
                              " of another tenant or connector type")


def with_health(registry: Registry, state: ConnectorState) -> ConnectorState:
    """The connector with the sync health its jobs made (``syncStatus``, ``lastSyncAt``,
    ``consecutiveErrors``, ``lastError``, ``metrics``): a projection of the jobs' events,
    current only, so past versions show none."""
    health = registry.app.sync_jobs.health(state.id, registry.clock())
    if health is None:
        return state
    return replace(state, sync_status=health.sync_status, last_sync_at=health.last_sync_at,
                   consecutive_errors=health.consecutive_errors,
                   last_error=health.last_error, metrics=health.metrics)


async def live_out(registry: Registry, state: ConnectorState) -> ConnectorOut:
    """A current connector as clients see it, its sync health included."""
    live: ConnectorState = await read(registry, with_health, registry, state)
    return connector_out(live)


async def _respond(registry: Registry, state: ConnectorState, status_code: int = 200,
                   headers: dict[str, str] | None = None) -> Response[ConnectorOut]:
    return Response(await live_out(registry, state), status_code=status_code,
                    headers={"ETag": etag(state.revision), **(headers or {})})


class ConnectorController(Controller):
    """``/connectors``: list, read, history, versions, its schemas, create, patch, replace,
    credentials, delete, restore, erase."""

    path = CONNECTOR_PATH
    tags = ("connectors",)

    @get("/", responses=problems(401, 403, 422), summary="List connectors", opt=allow(READERS))
    async def list_connectors(
        self,
        caller: CallerParam,
        type_filter: TypeFilter = None,
        provider: ProviderFilter = None,
        enabled: EnabledFilter = None,
        tag: TagFilter = None,
        scope_filter: ScopeFilter = None,
        include_deleted: IncludeDeletedConnectors = False,
        limit: Limit = 50,
        connector_cursor: ConnectorCursor = None,
    ) -> ConnectorList:
        """The connectors of the caller's tenant it may see, in id order, filtered and paged."""
        filters = {"type": type_filter, "provider": provider,
                   "enabled": flag_param(enabled, "enabled"), "tag": tag,
                   "scope": scope_filter, "include_deleted": include_deleted}
        states = await read(caller.registry, visible_page, caller.registry.connectors, caller,
                            filters, decode_connector_cursor(connector_cursor), limit)
        page, next_cursor = split_page(states, limit,
                                       lambda s: pack_cursor("connectors", s.connector_id))
        return ConnectorList(connectors=[await live_out(caller.registry, s) for s in page],
                             next_cursor=next_cursor)

    @get("/{id:str}", responses=problems(401, 403, 404, 410, 422)
         | connector_responses(not_modified=True), summary="Get a connector",
         opt=allow(READERS))
    async def get_connector(
        self,
        caller: CallerParam,
        id: ConnectorPathId,
        include_deleted: IncludeDeletedConnectors = False,
        if_none_match: IfNoneMatch = None,
    ) -> Response[Any]:
        """The current connector; ``ETag`` is its version, ``If-None-Match`` answers 304
        (not once it has synced: its sync health changes without a new version)."""
        state = await read(caller.registry, current, caller.registry.connectors, caller,
                           connector_uuid_param(id), include_deleted)
        headers = {"ETag": etag(state.revision), "Cache-Control": CURRENT}
        live = await read(caller.registry, with_health, caller.registry, state)
        if live is state and none_match(if_none_match, state.revision):
            return Response(b"", status_code=304, headers=headers)
        return Response(connector_out(live), headers=headers)

    @get("/{id:str}/history", responses=problems(401, 403, 404),
         summary="Connector change history", opt=allow(AUDITORS))
    async def get_connector_history(self, caller: CallerParam, id: ConnectorPathId) -> History:
        """Every version with who changed what and when, newest first (erase records too)."""
        uuid = connector_uuid_param(id)
        queries = caller.registry.connectors
        state = await read(caller.registry, queries.get, caller.tenant, uuid)
        if state is None or not (state.erased or sees(caller, state)):
            raise ConnectorNotFoundError(CONNECTOR_NOT_FOUND)
        revisions = await read(caller.registry, queries.history, caller.tenant, uuid)
        return History(history=[history_entry(r) for r in revisions])

    @get("/{id:str}/revisions/{version:str}",
         responses=problems(401, 403, 404, 410) | connector_responses(),
         summary="A connector exactly as it was at a version", opt=allow(READERS))
    async def get_connector_version(
        self, caller: CallerParam, id: ConnectorPathId, version: Version
    ) -> Response[Any]:
        """An immutable past version; erased versions answer 410."""
        uuid = connector_uuid_param(id)
        queries = caller.registry.connectors
        now = await read(caller.registry, queries.get, caller.tenant, uuid)
        if now is None or not (now.erased or sees(caller, now)):
            raise ConnectorNotFoundError(CONNECTOR_NOT_FOUND)
        state = await past_version(
            caller.registry, partial(queries.version, caller.tenant, uuid), version,
            kind="connector", public_id=encode_connector_id(uuid),
            erased_through=now.erased_through, missing=ConnectorVersionNotFoundError,
            erased=ConnectorErasedError)
        headers = {"ETag": etag(int(version)), "Cache-Control": IMMUTABLE}
        return Response(connector_out(state), headers=headers)

    @get("/{id:str}/schemas", responses=problems(401, 403, 404, 410, 422),
         summary="List a connector's schemas", opt=allow(READERS))
    async def list_connector_schemas(
        self,
        caller: CallerParam,
        id: ConnectorPathId,
        entity_type: EntityTypeFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        include_deleted: IncludeDeletedSchemas = False,
    ) -> SchemaList:
        """The schemas of a connector the caller may see, as the schema list pages them."""
        state = await read(caller.registry, current, caller.registry.connectors, caller,
                           connector_uuid_param(id), include_deleted)
        return await schema_page(caller, state.connector_id, entity_type, limit, cursor,
                                 include_deleted)

    @post("/", responses=problems(400, 401, 403, 409, 413, 415, 422) | _OAUTH_KEY_UNUSABLE,
          summary="Create a connector", operation_class=ConnectorCreateOperation,
          opt=allow(EDITORS))
    async def create_connector(
        self, caller: CallerParam, document: JsonBody, oauth_key: OAuthKey = None,
    ) -> Response[ConnectorOut]:
        """Create a connector (``cnn_`` id); the caller owns it unless ``ownerId`` says else.
        With ``oauth-key``, the credentials are the tokens of that completed OAuth flow."""
        stamped = server_stamped(document)
        if stamped:
            raise ConnectorValidationError(stamped)
        state = await run(caller.registry.app.create_connector, caller.access, document,
                          oauth_key=oauth_key, now=caller.registry.clock())
        return await _respond(caller.registry, state, 201,
                              {"Location": f"{CONNECTOR_PATH}/{state.connector_id}"})

    @patch("/{id:str}", responses=_changed_responses() | _OAUTH_KEY_UNUSABLE,
           summary="Change a connector with a merge patch (RFC 7396)",
           operation_class=ConnectorPatchOperation, opt=allow(EDITORS))
    async def patch_connector(
        self, caller: CallerParam, document: JsonBody, id: ConnectorPathId,
        if_match: IfMatch = None, oauth_key: OAuthKey = None,
    ) -> Response[ConnectorOut]:
        """Merge the patch into the current document; one new version, or none if unchanged.
        With ``oauth-key``, the new credentials are the tokens of that OAuth flow."""
        state, _ = await run(caller.registry.app.update_connector, caller.access,
                             connector_uuid_param(id), document, if_match_versions(if_match),
                             patch=True, oauth_key=oauth_key, now=caller.registry.clock())
        return await _respond(caller.registry, state)

    @put("/{id:str}", responses=_changed_responses() | _OAUTH_KEY_UNUSABLE,
         summary="Replace a connector",
         operation_class=ConnectorBodyOperation, opt=allow(EDITORS))
    async def replace_connector(
        self, caller: CallerParam, document: JsonBody, id: ConnectorPathId,
        if_match: IfMatch = None, oauth_key: OAuthKey = None,
    ) -> Response[ConnectorOut]:
        """Full replacement: fields left out return to their unset value (owner and
        credentials are kept); one new version, or none if nothing differs. With
        ``oauth-key``, the new credentials are the tokens of that OAuth flow."""
        state, _ = await run(caller.registry.app.update_connector, caller.access,
                             connector_uuid_param(id), document, if_match_versions(if_match),
                             patch=False, oauth_key=oauth_key, now=caller.registry.clock())
        return await _respond(caller.registry, state)

    @put("/{id:str}/credentials", responses=_changed_responses(),
         summary="Replace a connector's credentials", operation_class=CredentialsBodyOperation,
         opt=allow(EDITORS))
    async def rotate_credentials(
        self, caller: CallerParam, document: JsonBody, id: ConnectorPathId,
        if_match: IfMatch = None,
    ) -> Response[ConnectorOut]:
        """Store new credentials (one new version, ``Changed credentials``); the answer shows
        which credential fields are set, never a value."""
        state = await run(caller.registry.app.rotate_connector_credentials, caller.access,
                          connector_uuid_param(id), document, if_match_versions(if_match))
        return await _respond(caller.registry, state)

    @delete("/{id:str}", responses=problems(401, 403, 404, 409, 410, 422),
            summary="Delete a connector", opt=allow(EDITORS))
    async def delete_connector(
        self, caller: CallerParam, id: ConnectorPathId, cascade: Cascade = False
    ) -> None:
        """Soft delete; 409 with the live schema ids unless ``cascade=true``."""
        await run(caller.registry.app.delete_connector, caller.access,
                  connector_uuid_param(id), cascade=cascade)

    @post("/{id:str}/restore", status_code=200,
          responses=problems(401, 403, 404, 409, 410) | connector_responses(),
          summary="Restore a deleted connector", opt=allow(EDITORS))
    async def restore_connector(
        self, caller: CallerParam, id: ConnectorPathId
    ) -> Response[ConnectorOut]:
        """Bring a soft-deleted connector back as a new version (its schemas stay deleted)."""
        state = await run(caller.registry.app.restore_connector, caller.access,
                          connector_uuid_param(id))
        return await _respond(caller.registry, state)

    @delete("/{id:str}/erase", responses=problems(401, 403, 404, 410),
            summary="Erase a connector, its credentials and its schemas for good",
            opt=allow(ADMINS))
    async def erase_connector(self, caller: CallerParam, id: ConnectorPathId) -> None:
        """Destroy config, credentials and every schema it held; only an erase record stays."""
        await run(caller.registry.app.erase_connector, caller.access,
                  connector_uuid_param(id))
