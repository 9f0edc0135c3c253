"""Collector-script version routes of a universal connector (seed 003's ``versions``):
parse → command or query → respond. No business rules here.

Reads follow the connector's read rule (what the caller may see, else 404); saving a version
and moving the default follow its change rule (owner or admin). ``latest`` and ``default``
name those two versions in paths. The script text is never answered: it lives only in the
version's encrypted event and is read for a run.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post, put
from litestar.params import PathParameter

from api.access import EDITORS, READERS, allow
from api.bodies import connector_uuid_param
from api.models import Base
from api.openapi import json_body_operation, problems
from api.params import INTERNAL, ConnectorPathId, JsonBody
from api.params import Caller as CallerParam
from api.runtime import run
from domain.common import iso_timestamp
from domain.scripts.versions import (
    MAX_DESCRIPTION,
    MAX_SCRIPT_BYTES,
    NAME,
    RESERVED,
    ScriptVersion,
    ScriptVersionsState,
)

BASE = f"{INTERNAL}/connectors/{{id:str}}/versions"
VersionRef = Annotated[str, PathParameter(
    description="`latest`, `default`, a version id (`ver_…`) or a version name; anything"
                " else answers 404", schema_extra={"maxLength": 64})]

VersionBodyOperation = json_body_operation(
    {"type": "object", "additionalProperties": False, "required": ["name", "script"],
     "properties": {
         "name": {"type": "string", "pattern": NAME.pattern,
                  "not": {"enum": list(RESERVED)},
                  "description": "Unique within the connector; `latest` and `default` are"
                                 " reserved"},
         "description": {"type": ["string", "null"], "maxLength": MAX_DESCRIPTION},
         "script": {"type": "string", "minLength": 1, "maxLength": MAX_SCRIPT_BYTES,
                    "description": "The Python source: `collect(ctx)` yielding"
                                   " `(entity_type, record)` (docs/collectors.md)"}}},
    "A new script version. It is inspected in the sandbox when saved; what the inspection"
    " finds is the version's `messages`. A version with errors is saved but cannot become"
    " the default.",
)
DefaultBodyOperation = json_body_operation(
    {"type": "object", "additionalProperties": False, "required": ["version"],
     "properties": {"version": {"type": "string", "minLength": 1, "maxLength": 64,
                                "description": "`latest`, a version id or a name"}}},
    "The version syncs run from now on; it must have no error messages.",
)


class VersionMessage(Base):
    """Something the inspection found: severity ``info``, ``warning`` or ``error``."""

    text: str
    severity: str
    detail: list[str]


class ScriptVersionOut(Base):
    """A script version (seed 003's shape), never its text."""

    id: str
    name: str
    description: str | None
    is_latest: bool
    is_default: bool
    created_at: str | None
    created_by: str
    published_at: str | None
    messages: list[VersionMessage]


class ScriptVersionList(Base):
    """A connector's versions, oldest first."""

    versions: list[ScriptVersionOut]
    latest: str | None
    default: str | None


def version_out(state: ScriptVersionsState, version: ScriptVersion) -> ScriptVersionOut:
    latest = state.latest
    return ScriptVersionOut(
        id=version.version_id, name=version.name, description=version.description,
        is_latest=latest is not None and latest.id == version.id,
        is_default=state.default == version.id,
        created_at=iso_timestamp(version.created_at), created_by=version.created_by,
        published_at=iso_timestamp(version.published_at),
        messages=[VersionMessage(text=str(m.get("text", "")),
                                 severity=str(m.get("severity", "info")),
                                 detail=[str(d) for d in m.get("detail") or []])
                  for m in version.messages])


async def _versions(caller: Any, id: str) -> ScriptVersionsState:
    state: ScriptVersionsState = await run(caller.registry.app.script_versions, caller.access,
                                           connector_uuid_param(id))
    return state


class ScriptVersionController(Controller):
    """``/connectors/{id}/versions``: list, read, save, choose the default."""

    path = BASE
    tags = ("collector scripts",)

    @get("/", responses=problems(401, 403, 404, 410), summary="List a connector's script"
         " versions", opt=allow(READERS))
    async def list_versions(self, caller: CallerParam,
                            id: ConnectorPathId) -> ScriptVersionList:
        """Every version, oldest first, with which is ``latest`` and which ``default``
        (a connector of another type has none)."""
        state = await _versions(caller, id)
        default = next((v.version_id for v in state.versions if v.id == state.default), None)
        return ScriptVersionList(
            versions=[version_out(state, v) for v in state.versions],
            latest=state.latest.version_id if state.latest else None, default=default)

    @get("/{ref:str}", responses=problems(401, 403, 404, 410),
         summary="Get a script version", opt=allow(READERS))
    async def get_version(self, caller: CallerParam, id: ConnectorPathId,
                          ref: VersionRef) -> ScriptVersionOut:
        """One version by ``latest``, ``default``, id or name (never its text)."""
        state = await _versions(caller, id)
        return version_out(state, state.find(ref))

    @get("/default", responses=problems(401, 403, 404, 410),
         summary="Get the default script version", opt=allow(READERS))
    async def get_default_version(self, caller: CallerParam,
                                  id: ConnectorPathId) -> ScriptVersionOut:
        """The version syncs run (``PUT`` moves it)."""
        state = await _versions(caller, id)
        return version_out(state, state.find("default"))

    @post("/", responses=problems(400, 401, 403, 404, 409, 410, 413, 415, 422, 503),
          summary="Save a script version", operation_class=VersionBodyOperation,
          opt=allow(EDITORS))
    async def save_version(self, caller: CallerParam, id: ConnectorPathId,
                           document: JsonBody) -> Response[ScriptVersionOut]:
        """Inspect the script in the sandbox and save it as the latest version (the first
        one without errors also becomes the default)."""
        uuid = connector_uuid_param(id)
        saved = await run(caller.registry.app.save_script_version, caller.access, uuid,
                          document)
        state = await _versions(caller, id)
        location = f"{INTERNAL}/connectors/{id}/versions/{saved.version_id}"
        return Response(version_out(state, state.find(saved.version_id)), status_code=201,
                        headers={"Location": location})

    @put("/default", responses=problems(400, 401, 403, 404, 409, 410, 413, 415, 422),
         summary="Choose the default script version", operation_class=DefaultBodyOperation,
         opt=allow(EDITORS))
    async def set_default(self, caller: CallerParam, id: ConnectorPathId,
                          document: JsonBody) -> ScriptVersionOut:
        """Make a version the one syncs run; 409 ``script-version-has-errors`` when its
        inspection found errors."""
        body = document if isinstance(document, dict) else {"version": None}
        chosen = await run(caller.registry.app.set_default_script_version, caller.access,
                           connector_uuid_param(id), body)
        state = await _versions(caller, id)
        return version_out(state, state.find(chosen.version_id))
