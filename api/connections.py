"""Auth scheme config and connection routes under a connector: parse → command or query →
respond. No business rules here.

Reads follow the connector's read rule (what the caller may see, else 404); changes follow
the connector's change rule (owner or admin) and answer ``ETag`` = the connector's version,
which ``If-Match`` may name. A connection answers with every credential entry expanded.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from litestar import Controller, Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter

from api.access import EDITORS, READERS, Caller, allow
from api.bodies import connector_uuid_param, etag, if_match_versions
from api.connection_models import (
    AuthSchemeConfigList,
    ConnectionList,
    ConnectionOut,
    auth_scheme_config_out,
    connection_out,
)
from api.connectors import current
from api.openapi import json_body_operation, problems
from api.params import INTERNAL, ConnectorPathId, IfMatch, JsonBody
from api.params import Caller as CallerParam
from api.runtime import read, run
from domain.connectors.auth_schemes import CONFIG_ID, auth_scheme_config_schema
from domain.connectors.connections import (
    CONNECTION_NAME,
    connection_document_schema,
    find_config,
    find_connection,
)
from domain.connectors.state import ConnectorState

BASE = f"{INTERNAL}/connectors/{{id:str}}"
ConfigId = Annotated[str, PathParameter(
    description="Auth scheme config id (chosen by the client); any other value is 404",
    schema_extra={"pattern": CONFIG_ID})]
ConnectionName = Annotated[str, PathParameter(
    description="Connection name (unique within the connector); any other value is 404",
    schema_extra={"pattern": CONNECTION_NAME})]

AuthSchemeConfigOperation = json_body_operation(
    auth_scheme_config_schema(),
    "An auth scheme config: `id` (unique within the connector), `schemeType`, `description`"
    " and the scheme's settings. `validationMessages` is computed by the server and ignored"
    " if sent. Validated strictly; a body that breaks a rule answers 422 with pointers.",
)
ConnectionOperation = json_body_operation(
    connection_document_schema(),
    "A connection: `name` (unique within the connector), `credentials.action` and"
    " `credentials.trigger` (ordered `{authSchemeConfig, credential}` entries) and"
    " `variables`. Each credential must be a live credential of the caller's tenant whose"
    " type can serve the config's scheme; each config must be the connector's.",
)


def _changed(*extra: int) -> dict[int, ResponseSpec]:
    return problems(400, 401, 403, 404, 409, 410, 412, 413, 415, 422, *extra)


async def _state(caller: Caller, id: str) -> ConnectorState:
    state: ConnectorState = await read(caller.registry, current, caller.registry.connectors,
                                       caller, connector_uuid_param(id))
    return state


async def _connection(caller: Caller, state: ConnectorState, name: str) -> ConnectionOut:
    lookup = partial(caller.registry.credentials.get, caller.tenant)

    def render() -> ConnectionOut:
        return connection_out(state, find_connection(state, name), lookup)

    out: ConnectionOut = await read(caller.registry, render)
    return out


class AuthSchemeConfigController(Controller):
    """``/connectors/{id}/auth-scheme-configs``: list, read, add, replace, remove."""

    path = f"{BASE}/auth-scheme-configs"
    tags = ("connectors",)

    @get("/", responses=problems(401, 403, 404, 410), summary="List a connector's auth scheme"
         " configs", opt=allow(READERS))
    async def list_auth_scheme_configs(self, caller: CallerParam,
                                       id: ConnectorPathId) -> Response[AuthSchemeConfigList]:
        """The configs in the connector's order, each with its ``validationMessages``."""
        state = await _state(caller, id)
        configs = [auth_scheme_config_out(state, c["id"]) for c in state.auth_scheme_configs]
        return Response(AuthSchemeConfigList(auth_scheme_configs=configs),
                        headers={"ETag": etag(state.revision)})

    @get("/{config_id:str}", responses=problems(401, 403, 404, 410),
         summary="Get an auth scheme config", opt=allow(READERS))
    async def get_auth_scheme_config(self, caller: CallerParam, id: ConnectorPathId,
                                     config_id: ConfigId) -> Response[dict[str, Any]]:
        """One config with its ``validationMessages``."""
        state = await _state(caller, id)
        find_config(state, config_id)
        return Response(auth_scheme_config_out(state, config_id),
                        headers={"ETag": etag(state.revision)})

    @post("/", responses=_changed(), summary="Add an auth scheme config",
          operation_class=AuthSchemeConfigOperation, opt=allow(EDITORS))
    async def add_auth_scheme_config(self, caller: CallerParam, id: ConnectorPathId,
                                     document: JsonBody,
                                     if_match: IfMatch = None) -> Response[dict[str, Any]]:
        """Add a config at the end of the list (one new connector version)."""
        state = await run(caller.registry.app.add_auth_scheme_config, caller.access,
                          connector_uuid_param(id), document, if_match_versions(if_match))
        config_id = state.auth_scheme_configs[-1]["id"]
        location = f"{INTERNAL}/connectors/{id}/auth-scheme-configs/{config_id}"
        return Response(auth_scheme_config_out(state, config_id), status_code=201,
                        headers={"ETag": etag(state.revision), "Location": location})

    @put("/{config_id:str}", responses=_changed(), summary="Replace an auth scheme config",
         operation_class=AuthSchemeConfigOperation, opt=allow(EDITORS))
    async def replace_auth_scheme_config(
        self, caller: CallerParam, id: ConnectorPathId, config_id: ConfigId,
        document: JsonBody, if_match: IfMatch = None,
    ) -> Response[dict[str, Any]]:
        """Replace a config whole (its id stays); no new version when nothing differs."""
        state, _ = await run(caller.registry.app.replace_auth_scheme_config, caller.access,
                             connector_uuid_param(id), config_id, document,
                             if_match_versions(if_match))
        return Response(auth_scheme_config_out(state, config_id),
                        headers={"ETag": etag(state.revision)})

    @delete("/{config_id:str}", responses=problems(401, 403, 404, 409, 410, 412, 422),
            summary="Remove an auth scheme config", opt=allow(EDITORS))
    async def remove_auth_scheme_config(self, caller: CallerParam, id: ConnectorPathId,
                                        config_id: ConfigId, if_match: IfMatch = None) -> None:
        """Remove a config; 409 ``auth-scheme-config-in-use`` while a connection uses it."""
        await run(caller.registry.app.remove_auth_scheme_config, caller.access,
                  connector_uuid_param(id), config_id, if_match_versions(if_match))


class ConnectionController(Controller):
    """``/connectors/{id}/connections``: list, read, add, replace, remove (by name)."""

    path = f"{BASE}/connections"
    tags = ("connectors",)

    @get("/", responses=problems(401, 403, 404, 410), summary="List a connector's connections",
         opt=allow(READERS))
    async def list_connections(self, caller: CallerParam,
                               id: ConnectorPathId) -> Response[ConnectionList]:
        """Every connection in creation order, each credential entry expanded."""
        state = await _state(caller, id)
        found = [await _connection(caller, state, c["name"]) for c in state.connections]
        return Response(ConnectionList(connections=found),
                        headers={"ETag": etag(state.revision)})

    @get("/{name:str}", responses=problems(401, 403, 404, 410), summary="Get a connection",
         opt=allow(READERS))
    async def get_connection(self, caller: CallerParam, id: ConnectorPathId,
                             name: ConnectionName) -> Response[ConnectionOut]:
        """One connection, each credential entry expanded (never a credential's data)."""
        state = await _state(caller, id)
        return Response(await _connection(caller, state, name),
                        headers={"ETag": etag(state.revision)})

    @post("/", responses=_changed(), summary="Add a connection",
          operation_class=ConnectionOperation, opt=allow(EDITORS))
    async def add_connection(self, caller: CallerParam, id: ConnectorPathId,
                             document: JsonBody,
                             if_match: IfMatch = None) -> Response[ConnectionOut]:
        """Add a connection; its credentials record the usage in the same save."""
        state, name = await run(caller.registry.app.add_connection, caller.access,
                                connector_uuid_param(id), document,
                                if_match_versions(if_match))
        location = f"{INTERNAL}/connectors/{id}/connections/{name}"
        return Response(await _connection(caller, state, name), status_code=201,
                        headers={"ETag": etag(state.revision), "Location": location})

    @put("/{name:str}", responses=_changed(), summary="Replace a connection",
         operation_class=ConnectionOperation, opt=allow(EDITORS))
    async def replace_connection(
        self, caller: CallerParam, id: ConnectorPathId, name: ConnectionName,
        document: JsonBody, if_match: IfMatch = None,
    ) -> Response[ConnectionOut]:
        """Replace a connection whole (it may be renamed); variables left out are kept."""
        state, new_name, _ = await run(caller.registry.app.replace_connection, caller.access,
                                       connector_uuid_param(id), name, document,
                                       if_match_versions(if_match))
        return Response(await _connection(caller, state, new_name),
                        headers={"ETag": etag(state.revision)})

    @delete("/{name:str}", responses=problems(401, 403, 404, 409, 410, 412, 422),
            summary="Remove a connection", opt=allow(EDITORS))
    async def remove_connection(self, caller: CallerParam, id: ConnectorPathId,
                                name: ConnectionName, if_match: IfMatch = None) -> None:
        """Remove a connection; its credentials are released in the same save."""
        await run(caller.registry.app.remove_connection, caller.access,
                  connector_uuid_param(id), name, if_match_versions(if_match))

