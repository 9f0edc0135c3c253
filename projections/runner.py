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
log = logging.getLogger("registry.projections")


class Projection(Protocol):
    """A read model: applies events inside the projector's transaction."""

    name: str

    def apply(self, cur: Cursor, event: object) -> None: ...
    def clear(self, cur: Cursor) -> None: ...


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
        """Create the position table and this projector's row."""
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS registry_projection_positions ("
                " name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )
            cur.execute(
                "INSERT INTO registry_projection_positions (name, position) VALUES (%s, 0)"
                " ON CONFLICT (name) DO NOTHING",
                (self.name,),
            )

    def position(self) -> int:
        """The id of the last notification applied."""
        with self.db.transaction(write=False) as cur:
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
                    for event in events:
                        for projection in self.projections:
                            projection.apply(cur, event)
                if progress is not None:
                    progress(last, self.source.max_notification_id() or last)

    def _advance(self, cur: Cursor, expected: int, new: int) -> bool:
        changed = cur.execute(
            "UPDATE registry_projection_positions SET position = %s"
            " WHERE name = %s AND position = %s",
            (new, self.name, expected),
        )
        return changed == 1

    def rebuild(self, progress: Progress | None = None) -> int:
        """Forget every read model and replay the whole event store into them."""
        with self._lock, self.db.transaction(write=True) as cur:
            for projection in self.projections:
                projection.clear(cur)
            cur.execute(
                "UPDATE registry_projection_positions SET position = 0 WHERE name = %s",
                (self.name,),
            )
        return self.catch_up(progress)


class Follower:
    """A daemon thread that keeps the read models caught up with other processes' writes."""

    def __init__(self, projector: Projector, interval: float = 0.5) -> None:
        self.projector = projector
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
                self.projector.catch_up()
            except Exception:  # keep following: a failed batch is retried on the next tick
                log.exception("projection catch-up failed; retrying")
