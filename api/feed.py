"""``/internal/v1/events``: the tenant's change feed, as pages and as Server-Sent Events.

Both read the feed read model (``projections.feed``) after an opaque cursor derived from the
notification id, so a client resumes exactly where it stopped, across restarts. The stream
waits on the registry's change signal, not on a timer, and ends when the registry closes or
after ``Settings.stream_seconds`` (``EventSource`` reconnects with ``Last-Event-ID``).
"""

from __future__ import annotations

import base64
import binascii
import signal
import threading
import time
from collections.abc import AsyncIterator
from types import FrameType
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from api.access import AUDITORS, allow
from api.models import Base
from api.openapi import problems
from api.params import INTERNAL, Caller, Limit
from api.problems import PARAMETER_ALIASES, invalid_parameters
from api.runtime import read
from domain.errors import Violation
from projections.feed import FeedEntry, encode_cursor
from registry.feed import ChangeSignal
from registry.health import DatabaseUnavailableError
from registry.service import Registry

EVENT_CURSOR = "event-cursor"
"""The format of a feed cursor: only a ``cursor`` the feed answered is one."""
KEEP_ALIVE_SECONDS = 15.0
"""A comment line this often keeps idle streams open through proxies."""
STREAM_BATCH = 200
PARAMETER_ALIASES.update(last_event_id="Last-Event-ID")

After = Annotated[
    str | None,
    QueryParameter(description="A `cursor` the feed answered: entries after it (opaque); any"
                   " other value answers 422. Without it: from the beginning.",
                   schema_extra={"format": EVENT_CURSOR}),
]
LastEventId = Annotated[
    str | None,
    HeaderParameter(name="Last-Event-ID", description="The `id` of the last event received"
                    " (a feed cursor); wins over `after`. Any other value answers 422.",
                    schema_extra={"format": EVENT_CURSOR}),
]


class FeedEvent(Base):
    """One revision of one schema or connector of the tenant."""

    cursor: str
    type: str
    resource_id: str
    version: int
    changed_at: str
    changed_by: str
    changes: list[str]


class FeedPage(Base):
    """Entries in commit order; ``nextCursor`` is the ``after`` of the next request."""

    events: list[FeedEvent]
    next_cursor: str | None


def decode_cursor(value: str | None, pointer: str) -> int:
    """The position a cursor stands for (0 for none); 422 at ``pointer`` for anything else."""
    if value is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    kind, _, number = text.partition("|")
    if kind != "events" or not number.isascii() or not number.isdigit() or len(number) > 18:
        raise invalid_parameters([Violation(pointer, "not a cursor of the change feed")])
    return int(number)


def feed_event(entry: FeedEntry) -> FeedEvent:
    """One entry as the wire shows it."""
    return FeedEvent(cursor=encode_cursor(entry.position), type=entry.type,
                     resource_id=entry.resource_id, version=entry.version,
                     changed_at=entry.changed_at, changed_by=entry.changed_by,
                     changes=entry.changes)


def _message(entry: FeedEntry) -> ServerSentEventMessage:
    event = feed_event(entry)
    return ServerSentEventMessage(data=msgspec.json.encode(event).decode(), id=event.cursor)


async def changes_after(registry: Registry, tenant: str, after: int) -> AsyncIterator[
        ServerSentEventMessage]:
    """Every entry after ``after``, then each new one as it is committed, until the registry
    closes or the stream's time is up."""
    deadline = time.monotonic() + registry.settings.stream_seconds
    signal = registry.changes
    with signal.subscribe() as subscription:
        while not signal.closed:
            try:
                entries = await read(registry, registry.feed.page, tenant, after, STREAM_BATCH)
            except DatabaseUnavailableError:
                entries = []
            for entry in entries:
                yield _message(entry)
                after = entry.position
            if len(entries) == STREAM_BATCH:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if not await subscription.wait(min(left, KEEP_ALIVE_SECONDS)):
                yield ServerSentEventMessage(data=None, comment="keep-alive")


def end_streams_on_signals(changes: ChangeSignal) -> None:
    """End every change stream when the serving process is told to stop.

    The server finishes open responses before it shuts the application down, and a stream
    never finishes by itself: so the stop signal itself ends them. Each handler chains the
    one it replaces (the server's own keeps working: it is woken through the event loop's
    wakeup descriptor, whatever the Python handler). Only possible in the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(number)

        def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            changes.close()
            if callable(previous):
                previous(signum, frame)

        signal.signal(number, handler)


class FeedController(Controller):
    """What changed in the tenant, in commit order (auditors and admins)."""

    path = f"{INTERNAL}/events"
    tags = ("events",)

    @get("/", responses=problems(401, 403, 422), summary="Read the change feed",
         opt=allow(AUDITORS))
    async def page(self, caller: Caller, after: After = None, limit: Limit = 50) -> FeedPage:
        """The tenant's changes after ``after``, oldest first; resume with ``nextCursor``."""
        position = decode_cursor(after, "/query/after")
        entries = await read(caller.registry, caller.registry.feed.page, caller.tenant,
                             position, limit)
        next_cursor = encode_cursor(entries[-1].position) if entries else after
        return FeedPage(events=[feed_event(e) for e in entries], next_cursor=next_cursor)

    @get("/stream", responses=problems(401, 403, 422), summary="Stream the change feed",
         media_type="text/event-stream",
         opt=allow(AUDITORS))
    async def stream(self, caller: Caller, after: After = None,
                     last_event_id: LastEventId = None) -> ServerSentEvent:
        """Server-Sent Events: ``id`` is the entry's cursor, ``data`` the entry as JSON."""
        if last_event_id is not None:
            position = decode_cursor(last_event_id, "/header/Last-Event-ID")
        else:
            position = decode_cursor(after, "/query/after")
        return ServerSentEvent(changes_after(caller.registry, caller.tenant, position))
