"""The connection tester: one real check per connector type, bounded as a whole in time.

A check runs in its own thread; the tester waits at most the test timeout for it (DNS,
connect, TLS and the answer together) and answers 408 when it is not done by then. Each
client is given the same timeout, so a thread left behind ends soon after.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.connectors.catalogue import get_type, validate_config, validate_credentials
from domain.connectors.errors import CONNECTOR_TYPE_NOT_FOUND, ConnectorTypeNotFoundError
from domain.errors import Violation
from registry.connection.errors import (
    ConnectionProblem,
    ConnectionTestInvalidError,
    ConnectionTimeoutError,
)
from registry.connection.guard import TargetGuard
from registry.connection.http import check_http, http_client
from registry.connection.s3 import check_s3, s3_client
from registry.connection.safety import secret_values
from registry.connection.sql import check_postgresql
from registry.settings import ConnectionSettings

Check = Callable[[], None]


@dataclass(frozen=True)
class TestResult:
    """The outcome of one test: ``problem`` is ``None`` when it worked."""

    __test__ = False  # not a pytest test class

    ok: bool
    status: int
    message: str | None
    latency_ms: int
    checked_at: datetime
    problem: ConnectionProblem | None = None


class ConnectionTester:
    """Tests connections with the deployment's connection settings."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self.guard = TargetGuard(allow_private=settings.allow_private_targets)

    def test(self, type_name: str, config: Mapping[str, Any],
             credentials: Mapping[str, Any] | None) -> TestResult:
        """Reach the system for real; every outcome, failures included, is a result."""
        secrets = secret_values(credentials)
        check = self._check(type_name, config, credentials or {}, secrets)
        started = time.monotonic()
        try:
            self._bounded(check)
            problem: ConnectionProblem | None = None
        except ConnectionProblem as error:
            problem = error
        latency = round((time.monotonic() - started) * 1000)
        return TestResult(ok=problem is None, status=200 if problem is None else problem.status,
                          message=None if problem is None else problem.message,
                          latency_ms=latency, checked_at=datetime.now(UTC), problem=problem)

    def _check(self, type_name: str, config: Mapping[str, Any],
               credentials: Mapping[str, Any], secrets: list[str]) -> Check:
        timeout = self.settings.timeout_seconds
        if type_name == "postgresql":
            return lambda: check_postgresql(config, credentials, self.guard, timeout, secrets)
        if type_name == "s3":
            client = s3_client(config, credentials, timeout)  # local work, outside the bound
            return lambda: check_s3(client, config, self.guard, secrets)
        ca_file = str(self.settings.ca_file) if self.settings.ca_file else None

        def http() -> None:
            with http_client(self.guard, timeout, ca_file) as client:
                check_http(type_name, config, credentials, self.settings.api_bases, client,
                           secrets)

        return http

    def _bounded(self, check: Check) -> None:
        outcome: queue.Queue[BaseException | None] = queue.Queue(maxsize=1)

        def work() -> None:
            try:
                check()
            except BaseException as error:  # handed to the waiting thread
                outcome.put(error)
            else:
                outcome.put(None)

        threading.Thread(target=work, name="connection-test", daemon=True).start()
        try:
            error = outcome.get(timeout=self.settings.timeout_seconds)
        except queue.Empty:
            raise ConnectionTimeoutError(
                f"no answer within {self.settings.timeout_seconds:g} s") from None
        if error is not None:
            raise error


def checked_input(type_name: str, document: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and credentials of an unsaved test's body, or 400 with every violation."""
    if get_type(type_name) is None:
        raise ConnectorTypeNotFoundError(CONNECTOR_TYPE_NOT_FOUND)
    if not isinstance(document, Mapping):
        raise ConnectionTestInvalidError([Violation("", "must be an object")])
    violations = [Violation(f"/{key}", "unknown property")
                  for key in document if key not in ("config", "credentials")]
    config: Any = document.get("config")
    credentials: Any = document.get("credentials", {})
    if "config" not in document:
        violations.append(Violation("/config", "is required"))
    else:
        violations += validate_config(type_name, config)
    violations += validate_credentials(type_name, credentials)
    if violations:
        raise ConnectionTestInvalidError(violations)
    return dict(config), dict(credentials)


def saved_credentials(type_name: str, credentials: Mapping[str, Any] | None) -> None:
    """A saved connector's credentials are fit to test with, or 400 (nothing is sent)."""
    if validate_credentials(type_name, dict(credentials or {})):
        message = ("the connector has no credentials to test with" if credentials is None
                   else "the connector's credentials no longer pass the type's rules")
        raise ConnectionTestInvalidError([Violation("/credentials", message)])
