"""Database outages: which driver errors mean "the database cannot serve now", and a breaker.

:func:`unavailable` is the one place that tells an outage (PostgreSQL unreachable, a pool
that hands out no connection, SQLite locked or out of disk) from a bug; callers turn it into
:class:`DatabaseUnavailableError`, which the API answers with 503 and ``Retry-After``.

:class:`DatabaseHealth` remembers that PostgreSQL is down, so that while it is down every call
fails at once instead of waiting for connection timeouts, and logs the outage once when it
starts and once when it ends. While down, one caller at a time probes the server (a fresh
connection, a ``SELECT 1``) at most every ``probe_interval`` seconds; the first probe that
succeeds closes the breaker.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Literal

import psycopg
import psycopg.errors
import psycopg_pool
from eventsourcing.persistence import InterfaceError, OperationalError

from domain.errors import RegistryError

log = logging.getLogger("registry.database")

Outage = Literal["unreachable", "busy"]
RETRY_AFTER_SECONDS = 1

# SQLSTATE classes and codes that mean the connection or the server is gone.
_CONNECTION_CLASS = "08"
_SHUTDOWN_CODES = frozenset({"57P01", "57P02", "57P03"})
_SQLITE_BUSY = ("database is locked", "database table is locked", "disk i/o error",
                "database or disk is full", "unable to open database file")


class DatabaseUnavailableError(RegistryError):
    """The database cannot serve the request now; the request may be retried later.

    For a write the outcome is unknown: it was not reported as done, and it is never retried
    by the registry itself.
    """

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def unavailable(error: BaseException) -> Outage | None:
    """``unreachable`` (the server or the connection is gone), ``busy`` (locked, no free
    connection, lock wait exceeded), or ``None`` when the error is not an outage."""
    if isinstance(error, DatabaseUnavailableError):
        return "busy"
    for cause in _chain(error):
        if isinstance(cause, psycopg_pool.PoolTimeout):
            return "busy"
        if isinstance(cause, psycopg_pool.PoolClosed):
            return "unreachable"
        if isinstance(cause, psycopg.errors.LockNotAvailable):
            return "busy"
        if isinstance(cause, psycopg.InterfaceError):
            return "unreachable"
        if isinstance(cause, psycopg.OperationalError):
            state = cause.sqlstate
            if state is None or state.startswith(_CONNECTION_CLASS) or state in _SHUTDOWN_CODES:
                return "unreachable"
            return None
        if isinstance(cause, sqlite3.OperationalError):
            text = str(cause).lower()
            return "busy" if any(part in text for part in _SQLITE_BUSY) else None
    if isinstance(error, InterfaceError | OperationalError):
        text = str(error).lower()  # eventsourcing's SQLite errors keep only the message
        if any(part in text for part in _SQLITE_BUSY):
            return "busy"
    return None


def as_unavailable(error: BaseException) -> DatabaseUnavailableError | None:
    """The error as :class:`DatabaseUnavailableError` when it is an outage, else ``None``."""
    if isinstance(error, DatabaseUnavailableError):
        return error
    kind = unavailable(error)
    if kind is None:
        return None
    if kind == "busy":
        return DatabaseUnavailableError("the database is busy; retry shortly")
    return DatabaseUnavailableError("the database is unavailable; retry shortly")


class DatabaseHealth:
    """A breaker over one database: closed while it answers, open while it is down.

    ``probe`` connects afresh and raises when the server does not answer; ``on_down`` and
    ``on_back`` run once per transition (the PostgreSQL pool is closed while the database is
    down, so nobody waits on it and it does not reconnect in the background, and replaced by
    a fresh one when it is back).
    """

    def __init__(
        self,
        name: str,
        probe: Callable[[], None],
        *,
        on_down: Callable[[], None] = lambda: None,
        on_back: Callable[[], None] = lambda: None,
        probe_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._probe = probe
        self._on_down = on_down
        self._on_back = on_back
        self.probe_interval = probe_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._probing = False

    @property
    def down(self) -> bool:
        """True while the database is known to be unreachable."""
        return self._down_since is not None

    def check(self) -> None:
        """Return at once while the database is up; while it is down, raise at once, except
        for the one caller whose turn it is to probe (it returns when the probe succeeds)."""
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            if self._probing or self._clock() < self._next_probe:
                raise self._unavailable()
            self._probing = True
        try:
            self._probe()
        except Exception:
            with self._lock:
                self._probing = False
                self._next_probe = self._clock() + self.probe_interval
            raise self._unavailable() from None
        self._back()

    def failed(self, error: BaseException) -> DatabaseUnavailableError | None:
        """Classify an error raised while using the database; ``None`` when it is no outage.

        A connection error opens the breaker only when a probe confirms that the server does
        not answer: a stale connection or a full pool is answered 503 without it.
        """
        problem = as_unavailable(error)
        if problem is None or unavailable(error) != "unreachable" or self.down:
            return problem
        try:
            self._probe()
        except Exception as probe_error:
            self._mark_down(probe_error)
            return DatabaseUnavailableError("the database is unavailable; retry shortly")
        return problem

    def _mark_down(self, cause: BaseException) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = self._clock()
            self._next_probe = self._down_since + self.probe_interval
        log.error("database down: %s does not answer (%s); requests get 503 until it is back",
                  self.name, _first_line(cause))
        self._on_down()

    def _back(self) -> None:
        self._on_back()
        with self._lock:
            since, self._down_since = self._down_since, None
            self._probing = False
        if since is not None:
            log.warning("database back: %s answers again after %.1f s", self.name,
                        self._clock() - since)

    def _unavailable(self) -> DatabaseUnavailableError:
        return DatabaseUnavailableError("the database is unavailable; retry shortly")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")
