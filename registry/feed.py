"""Waking change-feed streams when the read models advance.

Streams run on the event loop; writes and the follower run in threads. A stream subscribes
*before* it reads the feed, so a change committed between its read and its wait still wakes
it (the event is set, the wait returns at once): no change is waited out, and nobody sleeps
to find out.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(eq=False)
class Subscription:
    """One waiting stream: its loop and the event a change sets."""

    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, timeout: float) -> bool:
        """Until a change (``True``) or ``timeout`` seconds (``False``); re-arms itself."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        self.event.clear()
        return True


class ChangeSignal:
    """Tells every subscribed stream, from any thread, that the feed may have moved."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self.closed = False
        """Set when the registry closes: streams end."""

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A subscription for the running event loop, for the duration of the block."""
        subscription = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions.discard(subscription)

    def notify(self, *_: object) -> None:
        """Wake every subscriber (a watcher and an application listener alike)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            with contextlib.suppress(RuntimeError):  # its loop has closed: nothing to wake
                subscription.loop.call_soon_threadsafe(subscription.event.set)

    def close(self) -> None:
        """End every stream: they see ``closed`` when they wake."""
        self.closed = True
        self.notify()
