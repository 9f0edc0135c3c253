"""A connector's tools and running them (seed 000's ``/tools/:connectorid`` and
``/action/:connectorid/:actionId``): parse → command → respond. No business rules here.

Every execution is in the audit trail with its connector, action, outcome and duration (and
the input, its secret properties masked), whatever the outcome.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import PathParameter

from api.access import AUDIT_DETAIL, READERS, allow
from api.bodies import connector_uuid_param
from api.models import Base
from api.openapi import json_body_operation, problem, problems
from api.params import Caller as CallerParam
from api.params import ConnectorPathId, JsonBody, Tester
from api.problems import status_for
from api.runtime import run
from domain.scripts.actions import ACTION_ID, masked
from registry.application import PENDING_AUDIT

RUNNERS = frozenset({"collector", "editor", "admin"})
"""Who may run a connector's tools: collectors run actions in the seed's world."""
ActionInputOperation = json_body_operation(
    {"type": "object"},
    "The tool's input: an object its `inputSchema` (GET /tools/{connectorId}) accepts; a body"
    " the tool's schema refuses answers 422 with pointers and runs nothing. `{}` when the"
    " tool takes nothing.",
)
ActionId = Annotated[str, PathParameter(
    description="The tool's id (`GET /tools/{connectorId}`); any other value answers 404",
    schema_extra={"pattern": ACTION_ID.pattern})]


class ToolOut(Base):
    """A tool in the shape LLM tool-calling clients and MCP use."""

    id: str
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class ToolList(Base):
    """The built-in tools, then those the default script version declares."""

    tools: list[ToolOut]


class ActionOut(Base):
    """What an action answered."""

    output: Any
    duration_ms: float


def _tool(tool: dict[str, Any]) -> ToolOut:
    return ToolOut(id=tool["id"], name=tool.get("name") or tool["id"],
                   description=tool["description"], input_schema=tool["inputSchema"],
                   output_schema=tool["outputSchema"])


class ToolController(Controller):
    """``/tools/{connectorId}`` and ``/action/{connectorId}/{actionId}``."""

    path = "/"
    tags = ("tools",)

    @get("/tools/{id:str}", responses=problems(401, 403, 404, 410),
         summary="List a connector's tools", opt=allow(READERS))
    async def list_tools(self, caller: CallerParam, id: ConnectorPathId) -> ToolList:
        """``test_connection`` and ``sync``, then the actions of the default script
        version, each with JSON Schemas for its input and output."""
        tools = await run(caller.registry.app.connector_tools, caller.access,
                          connector_uuid_param(id))
        return ToolList(tools=[_tool(t) for t in tools])

    @post("/action/{id:str}/{action_id:str}", status_code=200,
          responses=problems(400, 401, 403, 404, 409, 410, 413, 415, 422)
          | problem(408, "The built-in test_connection got no answer in time")
          | problem(429, "The connector already runs as many actions as it may at once")
          | problem(502, "The action failed (it raised, hit a limit, or answered an output"
                         " its schema refuses); `detail` is the script's own message"),
          summary="Run a connector's tool", operation_class=ActionInputOperation,
          opt=allow(RUNNERS))
    async def run_action(self, caller: CallerParam, request: Request[Any, Any, Any],
                         id: ConnectorPathId, action_id: ActionId, document: JsonBody,
                         tester: Tester) -> ActionOut:
        """Validate the body against the tool's ``inputSchema`` (422 with pointers), run it
        (actions in the sandbox with the connector's credentials and hosts), and answer
        ``{"output", "durationMs"}``."""
        uuid = connector_uuid_param(id)
        started = time.perf_counter()
        detail: dict[str, Any] = {"connectorId": id, "action": action_id}
        # The record is written after the run, with its outcome, not with a command's save.
        pending = PENDING_AUDIT.set(None)
        try:
            outcome = await run(caller.registry.app.run_action, caller.access, uuid,
                                action_id, document,
                                outbound=caller.registry.settings.connections, tester=tester,
                                now=caller.registry.clock)
            detail["outcome"] = "succeeded"
            return ActionOut(output=outcome.output, duration_ms=outcome.duration_ms)
        except Exception as error:
            detail["outcome"] = f"failed ({status_for(error)})"
            raise
        finally:
            PENDING_AUDIT.reset(pending)
            detail["durationMs"] = round((time.perf_counter() - started) * 1000, 1)
            detail["input"] = await _masked_input(caller, uuid, action_id, document)
            request.scope[AUDIT_DETAIL] = detail  # type: ignore[literal-required]


async def _masked_input(caller: Any, uuid: Any, action_id: str, document: Any) -> Any:
    """The input as the audit trail keeps it: secret properties masked, at most 2 KB."""
    try:
        tools = await run(caller.registry.app.connector_tools, caller.access, uuid)
    except Exception:  # the connector is unknown or gone: keep no input at all
        return None
    tool = next((t for t in tools if t["id"] == action_id), None)
    if tool is None:
        return None
    kept = masked(tool["inputSchema"], document)
    return kept if len(repr(kept)) <= 2048 else "(more than 2 KB, not kept)"
