"""Connection tests: ``POST /connector-types/{type}/test`` with unsaved config and
credentials, and ``POST /connectors/{id}/test`` for a saved connector.

Parse → test → respond: a test that worked answers 200, any other outcome its problem
(400, 403, 408, 502). Testing sends credentials to another system, so only editors and
admins may; a saved connector is tested by whoever may change it.
"""

from __future__ import annotations

from litestar import Controller, post
from litestar.openapi.datastructures import ResponseSpec

from api.access import EDITORS, allow
from api.bodies import connector_uuid_param
from api.models import ConnectionTestOut
from api.openapi import ConnectionTestBodyOperation, entity_responses, problem, problems
from api.params import INTERNAL, ConnectorPathId, ConnectorTypeName, JsonBody, Tester
from api.params import Caller as CallerParam
from api.runtime import run
from domain.common import iso_timestamp
from registry.connection.tester import TestResult, checked_input


def _responses(*statuses: int) -> dict[int, ResponseSpec]:
    return (problems(*statuses)
            | problem(400, "The body breaks the type's rules (`errors` points at each), or"
                           " the target is an address tests may not reach")
            | problem(403, "None of the caller's roles may test, the caller may not change"
                           " this connector, or the system refused the credentials")
            | problem(408, "The system did not answer within the test timeout")
            | problem(502, "The system or the way to it failed; `detail` is what it said")
            | entity_responses(ConnectionTestOut, "The connection works"))


def answer(result: TestResult) -> ConnectionTestOut:
    """The 200 body of a test that worked; the problem of any other outcome."""
    if result.problem is not None:
        raise result.problem
    return ConnectionTestOut(ok=True, latency_ms=result.latency_ms,
                             checked_at=iso_timestamp(result.checked_at) or "")


class ConnectionTestController(Controller):
    """Test connections: the registry reaches the connector's system for real."""

    path = INTERNAL
    tags = ("connectors",)

    @post("/connector-types/{type:str}/test", status_code=200,
          summary="Test a connection with unsaved config and credentials",
          operation_class=ConnectionTestBodyOperation,
          responses=_responses(401, 404, 413, 415, 422), opt=allow(EDITORS))
    async def test_unsaved(self, type: ConnectorTypeName, document: JsonBody,
                           tester: Tester) -> ConnectionTestOut:
        """Check the body against the type's schemas (400), then connect; records nothing."""
        config, credentials = checked_input(type, document)
        return answer(await run(tester.test, type, config, credentials))

    @post("/connectors/{id:str}/test", status_code=200,
          summary="Test a saved connector's connection",
          responses=_responses(401, 404, 409, 410, 422), opt=allow(EDITORS))
    async def test_saved(self, caller: CallerParam, id: ConnectorPathId,
                         tester: Tester) -> ConnectionTestOut:
        """Connect with the connector's config and credentials; the outcome is recorded on
        it (``lastTestedAt``, ``lastTest``) and on its credential (``errors``)."""
        _, result = await run(caller.registry.app.test_connector, caller.access,
                              connector_uuid_param(id), tester)
        return answer(result)
