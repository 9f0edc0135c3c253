"""What every handler needs: the app's registry, and a way to call it off the event loop."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
from litestar import Request

from registry.service import Registry


async def run(func: Any, *args: Any) -> Any:
    """Run blocking registry work in a worker thread."""
    return await anyio.to_thread.run_sync(partial(func, *args))


async def read(registry: Registry, func: Any, *args: Any) -> Any:
    """Run a read-model query: inline on SQLite, in a worker thread on PostgreSQL.

    A local SQLite read (tens of microseconds; WAL readers never wait for writers) costs less
    than the hop to a worker thread, which is what made ``GET …/schemas/{id}`` slow; a network
    round trip to PostgreSQL must not hold the event loop.
    """
    if registry.db.dialect == "sqlite":
        return func(*args)
    return await run(func, *args)


def registry_of(request: Request[Any, Any, Any]) -> Registry:
    """The registry the app was started with."""
    registry: Registry = request.app.state.registry
    return registry
