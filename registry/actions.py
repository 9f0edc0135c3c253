"""Tools of a connector and running them: the built-ins every connector has, and the actions
its default script version declares, run in the sandbox like a sync.

An action runs with the connector's config, credentials (decrypted only for the run) and
variables, may call only the connector's hosts through the host, and is bounded by the
sandbox's limits with at most :data:`ACTION_WALL_SECONDS` of wall-clock time. A registry
process runs at most :data:`ACTIONS_PER_CONNECTOR` actions of one connector at once; one
more answers 429 at once rather than queueing.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.common import iso_timestamp
from domain.scripts.actions import (
    BUILT_INS,
    ActionFailedError,
    ActionInputError,
    ActionNotFoundError,
    ActionsBusyError,
    violations_of,
)
from domain.scripts.versions import ScriptVersion
from registry.sandbox import ScriptFailedError
from registry.scripts import SCRIPTED_TYPES
from registry.sync import HostHttp, allowed_hosts, script_variables

if TYPE_CHECKING:
    from domain.connectors.connector import Connector
    from domain.connectors.state import ConnectorState
    from domain.scripts.versions import ScriptVersions
    from registry.connection.tester import ConnectionTester
    from registry.connectors import Access
    from registry.sandbox import Sandbox
    from registry.settings import ConnectionSettings

ACTIONS_PER_CONNECTOR = 2
ACTION_WALL_SECONDS = 30.0


@dataclass(frozen=True)
class ActionOutcome:
    """What an action answered, and how long it took."""

    output: Any
    duration_ms: float


class ActionCommands:
    """Tools and actions; mixed into the application."""

    if TYPE_CHECKING:  # provided by the application this is mixed into
        sandbox: Sandbox

        def connector(self, access: Access, uuid: UUID) -> Connector: ...

        def _script_versions(self, connector_id: UUID) -> ScriptVersions | None: ...

        def script_text(self, connector_id: UUID, version_id: UUID) -> str | None: ...

        def fresh_connector_credentials(self, access: Access, uuid: UUID, now: datetime
                                        ) -> tuple[ConnectorState, dict[str, Any] | None]: ...

        def request_sync(self, access: Access, uuid: UUID, *, full: bool = True) -> Any: ...

        def test_connector(self, access: Access, uuid: UUID,
                           tester: ConnectionTester) -> Any: ...

    _action_slots: dict[UUID, threading.BoundedSemaphore]
    _action_slots_lock = threading.Lock()

    def connector_tools(self, access: Access, uuid: UUID) -> list[dict[str, Any]]:
        """The built-in tools and those the default script version declares."""
        connector = self.connector(access, uuid)
        connector.visible_state()
        version = self._default_version(connector)
        declared = [dict(a) for a in version.actions] if version is not None else []
        return [dict(t) for t in BUILT_INS] + declared

    def run_action(self, access: Access, uuid: UUID, action_id: str, value: Any, *,
                   outbound: ConnectionSettings, tester: ConnectionTester,
                   now: Callable[[], datetime]) -> ActionOutcome:
        """Validate ``value`` against the action's input schema, run the action, check its
        output against its output schema."""
        tools = {t["id"]: t for t in self.connector_tools(access, uuid)}
        tool = tools.get(action_id)
        if tool is None:
            raise ActionNotFoundError(f"the connector has no tool {action_id!r}")
        violations = violations_of(tool["inputSchema"], value)
        if violations:
            raise ActionInputError(violations)
        started = time.perf_counter()
        with self._action_slot(uuid):
            output = self._execute(access, uuid, action_id, value, outbound=outbound,
                                   tester=tester, now=now)
        duration = round((time.perf_counter() - started) * 1000, 1)
        wrong = violations_of(tool["outputSchema"], output)
        if wrong:
            raise ActionFailedError(
                "the action's output does not match its outputSchema: "
                + "; ".join(f"{v.pointer or '/'}: {v.message}" for v in wrong[:5]))
        return ActionOutcome(output, duration)

    def _execute(self, access: Access, uuid: UUID, action_id: str, value: Any, *,
                 outbound: ConnectionSettings, tester: ConnectionTester,
                 now: Callable[[], datetime]) -> Any:
        if action_id == "sync":
            job = self.request_sync(access, uuid, full=bool(value.get("full", True)))
            return {"jobId": job.job_id, "status": job.status,
                    "startedAt": iso_timestamp(job.queued_at)}
        if action_id == "test_connection":
            _, result = self.test_connector(access, uuid, tester)
            if result.problem is not None:
                raise result.problem
            return {"ok": True, "latencyMs": result.latency_ms,
                    "checkedAt": iso_timestamp(result.checked_at)}
        connector = self.connector(access, uuid)
        version = self._default_version(connector)
        assert version is not None  # the tool was found among its actions
        state, credentials = self.fresh_connector_credentials(access, uuid, now())
        script = self.script_text(state.id, version.id)
        if script is None:
            raise ActionNotFoundError("the connector's script is gone")
        context = {"config": dict(state.config), "credentials": credentials or {},
                   "variables": script_variables(state), "state": None}
        limits = dataclasses.replace(
            self.sandbox.limits,
            wall_seconds=min(self.sandbox.limits.wall_seconds, ACTION_WALL_SECONDS))
        http = HostHttp(allowed_hosts(state), outbound)
        try:
            output, _ = self.sandbox.call(script, context, action_id, value, on_http=http,
                                          limits=limits)
        except ScriptFailedError as failed:
            raise ActionFailedError(failed.reason) from None
        finally:
            http.close()
        return output

    def _default_version(self, connector: Connector) -> ScriptVersion | None:
        if connector.state.type not in SCRIPTED_TYPES:
            return None
        versions = self._script_versions(connector.id)
        if versions is None or versions.state.default is None:
            return None
        return versions.state.find("default")

    @contextmanager
    def _action_slot(self, connector: UUID) -> Iterator[None]:
        with self._action_slots_lock:
            slots = self.__dict__.setdefault("_action_slots", {})
            slot = slots.setdefault(connector, threading.BoundedSemaphore(ACTIONS_PER_CONNECTOR))
        if not slot.acquire(blocking=False):
            raise ActionsBusyError(
                f"the connector already runs {ACTIONS_PER_CONNECTOR} actions; try again")
        try:
            yield
        finally:
            slot.release()
