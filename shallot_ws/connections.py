"""The accepted connections this process serves, so that a shutdown can close them.

The driver registers each accepted connection's task here and takes it out when its hooks
have run. At the lifespan shutdown (``lifespan.py``) the app cancels the ones still running
in its event loop and waits for them, bounded: each closes with the app's shutdown code
(1012 by default), its handler's ``finally`` blocks and its hooks run, as when the server
cancels it. A server that cancels its connections itself before the lifespan shutdown
(hypercorn, uvicorn) leaves nothing to do here; one that drops them without a word (granian)
would otherwise leave their hooks never run.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from .reporting import logger

__all__ = ["DRAIN_AT_SHUTDOWN", "SHUTDOWN_MESSAGE", "drain", "forget", "register"]

DRAIN_AT_SHUTDOWN = 5.0  # seconds the lifespan shutdown waits for the connections it closes
SHUTDOWN_MESSAGE = "shallot_ws: the app is shutting down"  # the drain's cancellation message

_live: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()


def register(task: asyncio.Task[Any] | None) -> None:
    """``task`` serves an accepted connection from now on."""
    if task is not None:
        _live.add(task)


def forget(task: asyncio.Task[Any] | None) -> None:
    """``task``'s connection is over (its hooks ran)."""
    if task is not None:
        _live.discard(task)


async def drain(timeout: float = DRAIN_AT_SHUTDOWN) -> int:
    """Cancel every connection still served in this event loop, and wait up to ``timeout``
    seconds for them to end; how many there were. One still running then is logged."""
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    tasks = [t for t in _live if t.get_loop() is loop and not t.done() and t is not current]
    if not tasks:
        return 0
    for task in tasks:
        task.cancel(SHUTDOWN_MESSAGE)
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    if pending:
        logger.warning(
            "shutdown: %d connection(s) still running %s s after they were closed",
            len(pending),
            timeout,
        )
    return len(tasks)
