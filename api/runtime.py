"""Calling the registry from handlers: blocking work off the event loop, local reads inline."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread

from registry.service import Registry


async def run(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run blocking registry work (a command, a network round trip) in a worker thread."""
    return await anyio.to_thread.run_sync(partial(func, *args, **kwargs))


async def read(registry: Registry, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a read-model query: inline on SQLite, in a worker thread on PostgreSQL.

    A local SQLite read (a few microseconds on a plain read connection; WAL readers never
    wait for writers) costs less than the hop to a worker thread; a network round trip to
    PostgreSQL must not hold the event loop.
    """
    if registry.db.dialect == "sqlite":
        return func(*args, **kwargs)
    return await run(func, *args, **kwargs)
