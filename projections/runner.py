"""Feeds stored events to read models, recording in the same transaction how far it has read.

Writers call :meth:`Projector.catch_up` after every save (read-your-writes); a follower thread
calls it too, to pick up events other processes wrote. Several processes may catch up at once:
each batch advances the position with a compare-and-set, so a batch is applied exactly once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from projections.db import Cursor, Database

Progress = Callable[[int, int], None]
_SETUP_LOCK = 0x5245474953545259  # any constant: serialises read-model set-up across processes
log = logging.getLogger("registry.projections")


class Projection(Protocol):
    """A read model: its tables, and how it applies events inside the projector's transaction.

    ``version`` names the layout of its rows: when it changes, the projector drops the tables
    and rebuilds them from the event store on start-up.
    """

    name: str
    version: int
    tables: tuple[str, ...]

    def create_tables(self, cur: Cursor) -> None: ...
    def apply(self, cur: Cursor, event: object) -> None: ...


class NotificationSource(Protocol):
    """The event store's application sequence (an ``ApplicationRecorder``)."""

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, topics: Sequence[str] = (),
        *, inclusive_of_start: bool = True,
    ) -> Sequence[Any]: ...

    def max_notification_id(self) -> int | None: ...


class EventMapper(Protocol):
    """Turns stored notifications back into domain events (decrypting them)."""

    def to_domain_event(self, stored_event: Any) -> Any: ...


class Projector:
    """Runs a group of projections over the application sequence, tracked under one name."""

    def __init__(
        self,
        db: Database,
        source: NotificationSource,
        mapper: EventMapper,
        projections: Sequence[Projection],
        *,
        name: str = "read_models",
        batch_size: int = 500,
    ) -> None:
        self.db = db
        self.source = source
        self.mapper = mapper
        self.projections = projections
        self.name = name
        self.batch_size = batch_size
        self._lock = threading.RLock()

    def create_tables(self) -> None:
        """Create the read models and this projector's position; rebuild an outdated layout."""
        with self.db.transaction(write=True) as cur:
            if self.db.dialect == "postgres":  # one process at a time sets tables up
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS registry_projection_positions ("
                " name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS registry_read_model_layouts ("
                " name TEXT PRIMARY KEY, layout TEXT NOT NULL)"
            )
            row = cur.one(
                "SELECT layout FROM registry_read_model_layouts WHERE name = %s", (self.name,)
            )
            if row is None or row["layout"] != self.layout:
                self._recreate(cur)
            for projection in self.projections:
                projection.create_tables(cur)
            cur.execute(
                "INSERT INTO registry_projection_positions (name, position) VALUES (%s, 0)"
                " ON CONFLICT (name) DO NOTHING",
                (self.name,),
            )

    @property
    def layout(self) -> str:
        """The names and versions of the projections, as recorded with their tables."""
        return ",".join(f"{p.name}:{p.version}" for p in self.projections)

    def _recreate(self, cur: Cursor) -> None:
        if self.layout_known(cur):
            log.warning("read-model layout changed to %s: rebuilding from the events", self.layout)
        for projection in self.projections:
            for table in projection.tables:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute("DELETE FROM registry_projection_positions WHERE name = %s", (self.name,))
        cur.execute("DELETE FROM registry_read_model_layouts WHERE name = %s", (self.name,))
        cur.execute(
            "INSERT INTO registry_read_model_layouts (name, layout) VALUES (%s, %s)",
            (self.name, self.layout),
        )

    def layout_known(self, cur: Cursor) -> bool:
        """True when read-model tables of some earlier layout exist (not a new database)."""
        row = cur.one(
            "SELECT COUNT(*) AS n FROM registry_projection_positions WHERE name = %s",
            (self.name,),
        )
        return bool(row and row["n"])

    def position(self) -> int:
        """The id of the last notification applied."""
        with self.db.read() as cur:
            row = cur.one(
                "SELECT position FROM registry_projection_positions WHERE name = %s", (self.name,)
            )
        return int(row["position"]) if row else 0

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply every stored event not yet applied; answers the new position."""
        with self._lock:
            while True:
                position = self.position()
                notifications = self.source.select_notifications(
                    start=position, limit=self.batch_size, inclusive_of_start=False
                )
                if not notifications:
                    return position
                events = [self.mapper.to_domain_event(n) for n in notifications]
                last = notifications[-1].id
                with self.db.transaction(write=True) as cur:
                    if not self._advance(cur, position, last):
                        continue  # another process applied this batch first
                    for notification, event in zip(notifications, events, strict=True):
                        cur.notification_id = notification.id
                        for projection in self.projections:
                            projection.apply(cur, event)
                if progress is not None:
                    progress(last, self.source.max_notification_id() or last)

    def apply_inline(
        self, cur: Cursor, events: Sequence[object], table: str, column: str, ids: Sequence[int]
    ) -> bool:
        """Apply a save's own events in the save's transaction, if nothing precedes them.

        Only when the read models stand exactly at the last event stored before these (the
        insert holds the event table's write lock, so that cannot move) are they applied here
        and the position advanced past them; otherwise a catch-up applies everything in order.
        """
        row = cur.one(f"SELECT MAX({column}) AS last FROM {table} WHERE {column} < %s", (ids[0],))
        previous = int(row["last"] or 0) if row else 0
        if not self._advance(cur, previous, max(ids)):
            return False
        for event, notification_id in zip(events, ids, strict=True):
            cur.notification_id = notification_id
            for projection in self.projections:
                projection.apply(cur, event)
        return True

    def _advance(self, cur: Cursor, expected: int, new: int) -> bool:
        # RETURNING, not the row count: inside a PostgreSQL pipeline only a fetch waits for
        # the statement's result.
        row = cur.one(
            "UPDATE registry_projection_positions SET position = %s"
            " WHERE name = %s AND position = %s RETURNING position",
            (new, self.name, expected),
        )
        return row is not None

    def rebuild(self, progress: Progress | None = None) -> int:
        """Forget every read model and replay the whole event store into them."""
        with self._lock, self.db.transaction(write=True) as cur:
            for projection in self.projections:
                for table in projection.tables:
                    cur.execute(f"DELETE FROM {table}")
            cur.execute(
                "UPDATE registry_projection_positions SET position = 0 WHERE name = %s",
                (self.name,),
            )
        return self.catch_up(progress)


class Follower:
    """A daemon thread that calls ``tick`` every ``interval`` seconds (catching up with writes
    of other processes); a failing tick is logged and retried on the next one."""

    def __init__(self, tick: Callable[[], None], interval: float = 0.5) -> None:
        self.tick = tick
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="projection-follower", daemon=True)

    def start(self) -> None:
        """Start following."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # keep following: a failed batch is retried on the next tick
                log.exception("projection catch-up failed; retrying")
