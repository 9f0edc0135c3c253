"""Calling the registry from handlers: blocking work off the event loop, local reads inline."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import anyio.to_thread

from api.bodies import is_number
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


async def past_version(
    registry: Registry, version_of: Callable[[int], Any], version: str, *, kind: str,
    public_id: str, erased_through: int, missing: type[Exception], erased: type[Exception],
) -> Any:
    """The state ``version_of`` reads for a ``{version}`` path parameter: ``missing`` for
    anything but a version number or a version that never was, ``erased`` for one erased."""
    if not is_number(version, digits=9) or int(version) < 1:
        raise missing(f"{kind} {public_id} has no such version")
    state = await read(registry, version_of, int(version))
    if state is None:
        if int(version) <= erased_through:
            raise erased(f"version {version} of {public_id} was erased")
        raise missing(f"{kind} {public_id} has no version {version}")
    return state
