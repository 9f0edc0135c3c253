"""Which driver errors are outages, and the breaker that remembers one."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
import psycopg_pool
import pytest
from eventsourcing.persistence import OperationalError

from registry.health import DatabaseHealth, DatabaseUnavailableError, as_unavailable, unavailable


def _wrapped(cause: BaseException) -> OperationalError:
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as error:
        return error


@pytest.mark.parametrize(("error", "kind"), [
    (psycopg.OperationalError("connection refused"), "unreachable"),
    (_wrapped(psycopg.OperationalError("server closed the connection")), "unreachable"),
    (psycopg.InterfaceError("the connection is closed"), "unreachable"),
    (psycopg_pool.PoolClosed("closed"), "unreachable"),
    (psycopg_pool.PoolTimeout("no connection in 1.5 s"), "busy"),
    (psycopg.errors.LockNotAvailable("lock timeout"), "busy"),
    (psycopg.errors.AdminShutdown("terminating connection"), "unreachable"),
    (sqlite3.OperationalError("database is locked"), "busy"),
    (OperationalError("disk I/O error"), "busy"),
    (psycopg.errors.QueryCanceled("statement timeout"), None),
    (psycopg.errors.UndefinedTable("no such table"), None),
    (sqlite3.OperationalError("no such table: x"), None),
    (ValueError("a bug"), None),
])
def test_outages_are_told_from_bugs(error: BaseException, kind: str | None) -> None:
    assert unavailable(error) == kind
    assert (as_unavailable(error) is None) == (kind is None)


class Server:
    """A probe target that is up or down."""

    def __init__(self) -> None:
        self.up = True
        self.probes = 0

    def probe(self) -> None:
        self.probes += 1
        if not self.up:
            raise psycopg.OperationalError("connection refused")


def test_the_breaker_opens_once_fails_fast_and_closes_on_a_good_probe(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, events, now = Server(), [], [100.0]
    health = DatabaseHealth("db", server.probe, on_down=lambda: events.append("down"),
                            on_back=lambda: events.append("back"), probe_interval=1,
                            clock=lambda: now[0])
    refused = psycopg.OperationalError("connection refused")
    server.up = False
    assert isinstance(health.failed(refused), DatabaseUnavailableError)
    assert isinstance(health.failed(refused), DatabaseUnavailableError)
    assert health.down and events == ["down"]
    probes = server.probes
    for _ in range(5):
        with pytest.raises(DatabaseUnavailableError):
            health.check()
    assert server.probes == probes  # no probe before the interval: every call fails at once
    now[0] += 1
    with pytest.raises(DatabaseUnavailableError):
        health.check()  # probe due, still down
    assert server.probes == probes + 1
    server.up = True
    with pytest.raises(DatabaseUnavailableError):
        health.check()  # the next probe is one interval after the failed one
    now[0] += 1
    health.check()
    assert not health.down and events == ["down", "back"]
    messages = [r.getMessage() for r in caplog.records if r.name == "registry.database"]
    assert [m.split(":")[0] for m in messages] == ["database down", "database back"]


def test_a_stale_connection_does_not_open_the_breaker() -> None:
    server = Server()
    health = DatabaseHealth("db", server.probe)
    problem = health.failed(psycopg.OperationalError("server closed the connection"))
    assert isinstance(problem, DatabaseUnavailableError) and not health.down
    assert health.failed(ValueError("a bug")) is None
