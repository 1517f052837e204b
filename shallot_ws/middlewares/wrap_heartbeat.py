"""wrap_heartbeat: an application-level ping every ``interval``; a client whose pong does not
come back within ``timeout`` is closed (4408 "heartbeat timeout" by default).

ASGI gives an application no WebSocket ping of its own (a server may ping, but never tells
the app whether the pong came), so a client that vanished without a close (a laptop lid, a
dead network) looks quiet, not gone, until TCP gives up minutes later. This middleware sends
a ping message the client's code answers, by default the JSON text ``{"type":"ping"}``,
answered by ``{"type":"pong"}``; both are configurable. Pongs are taken out of the client's
frames: the handler never sees them.

Theory of operation. The handler runs under ``merge`` with a schedule of its own: a ping at
every ``interval`` (on a fixed schedule, from the connection's start) and, ``timeout`` after
each ping, a deadline. At a deadline, if no pong has arrived since that ping, the middleware
yields ``ws_close(code, reason)``, which ends the connection (the handler is closed, its
``finally`` blocks run, ``on_close`` runs). Sending a ping is a message like the handler's,
so it composes with ``wrap_json``, ``wrap_idle_timeout`` and typed contracts, which pass
``ws_send`` messages untouched. The cost: the handler's messages go through the merge's
queue (a task switch per message), so put it on routes that need it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from .. import options
from ..compose import SKIP, FilteredReceiver, HandlerFunction, Middleware, relay
from ..errors import ConfigTypeError
from ..merge import merge
from ..messages import close_message, ws_send
from ..reporting import logger
from ..types import Frame, FrameSource, Scope
from ._base import factory, middleware

__all__ = ["DEFAULT_PING", "is_json_pong", "wrap_heartbeat"]

DEFAULT_PING = '{"type":"ping"}'
_PING, _DEADLINE = "ping", "deadline"


def is_json_pong(frame: Any) -> bool:
    """Whether ``frame`` is the default pong: the JSON object ``{"type": "pong"}`` (as text,
    or already parsed by an inner ``wrap_json``)."""
    if isinstance(frame, dict):
        return frame == {"type": "pong"}
    if not isinstance(frame, str) or "pong" not in frame:
        return False
    try:
        return json.loads(frame) == {"type": "pong"}  # type: ignore[no-any-return]
    except ValueError:
        return False


async def _schedule(interval: float, timeout: float) -> AsyncIterator[tuple[str, float]]:
    """``("ping", t)`` every ``interval`` and ``("deadline", t)`` ``timeout`` after the ping
    sent at ``t``, in time order, on the loop's clock."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    next_ping = start + interval
    deadlines: list[float] = []  # ping times whose deadline is still ahead
    while True:
        due_deadline = deadlines[0] + timeout if deadlines else None
        if due_deadline is not None and due_deadline <= next_ping:
            await asyncio.sleep(max(0.0, due_deadline - loop.time()))
            yield _DEADLINE, deadlines.pop(0)
        else:
            await asyncio.sleep(max(0.0, next_ping - loop.time()))
            deadlines.append(next_ping)
            yield _PING, next_ping
            next_ping += interval


class _Pongs:
    """When the client's newest pong arrived; ``take`` lets every other frame through."""

    __slots__ = ("_clock", "_is_pong", "last")

    def __init__(self, is_pong: Callable[[Any], bool]) -> None:
        self._is_pong = is_pong
        self._clock = asyncio.get_running_loop().time
        self.last = -1.0

    def take(self, frame: Any) -> Any:
        """``frame``, or ``SKIP`` for a pong (noted)."""
        if self._is_pong(frame):
            self.last = self._clock()
            return SKIP
        return frame


@factory
def wrap_heartbeat(
    interval: float = 20.0,
    timeout: float = 10.0,
    *,
    ping: Frame = DEFAULT_PING,
    is_pong: Callable[[Any], bool] = is_json_pong,
    code: int = 4408,
    reason: str = "heartbeat timeout",
) -> Middleware:
    """The middleware that pings the client every ``interval`` seconds (``ping``, a text or
    binary frame) and closes with ``code`` and ``reason`` a connection whose pong (a frame
    for which ``is_pong`` is true) has not come back ``timeout`` seconds after a ping.
    Pongs never reach the handler. Everything is checked now."""
    every = options.seconds(interval, "wrap_heartbeat interval")
    wait = options.seconds(timeout, "wrap_heartbeat timeout")
    close = close_message(code, reason, "wrap_heartbeat")
    ping_message = ws_send(ping)
    if not callable(is_pong):
        raise ConfigTypeError(
            f"wrap_heartbeat expected a function is_pong(frame) -> bool, got {is_pong!r}"
        )

    def wrap(handler: HandlerFunction) -> HandlerFunction:
        async def wrapped(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
            pongs = _Pongs(is_pong)
            async with (
                relay(handler, scope, FilteredReceiver(receiver, pongs.take)) as messages,
                merge(messages, buffer=1, beat=_schedule(every, wait)) as events,
            ):
                async for source, item in events:
                    if source != "beat":
                        yield item
                    elif item[0] == _PING:
                        yield dict(ping_message)
                    elif pongs.last < item[1]:  # no pong since that ping
                        logger.debug("wrap_heartbeat closing with %d: no pong", code)
                        yield dict(close)
                        return

        return wrapped

    return middleware(wrap)
