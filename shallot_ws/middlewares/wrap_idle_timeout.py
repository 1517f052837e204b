"""wrap_idle_timeout: close a connection whose client has been silent for a while.

Theory of operation. One timer (``loop.call_later``) per connection. Each frame the handler
takes from the receiver notes the time (no timer work per frame); a frame that waits in the
receiver's buffer while the handler does not read counts from when it arrived (the
receiver's ``arrived_at``), when the timer looks. When the timer fires it re-arms itself for
what is left of the idle time since the client was last heard; once the client has been
silent for ``seconds``, the connection has *expired*:

* if the handler is running (the middleware is waiting for its next message), the timer
  cancels the connection's task, so the handler stops where it waits: reading the receiver,
  sleeping, a queue, a feed. Its ``CancelTimer`` (cancelling.py) counts its cancellations;
  when the ``CancelledError`` comes out of the handler and is the middleware's own, it is
  taken back and the middleware yields ``ws_close(code, reason)``. A cancellation that is
  not its own (the driver's drain timer, a server shutdown) propagates. A handler that
  swallows the cancellation is cancelled again after each further ``seconds``;
* if the driver has the control (sending the last message), nothing is cancelled: the
  middleware yields the close as soon as it resumes.

A stream that only yields counts as an idle client: the client is silent. The pure part is
``IdleClock``: when the client was last heard, and how long is left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any, TypeVar

from .. import options
from ..cancelling import CancelTimer
from ..compose import HandlerFunction, MappedReceiver, Middleware, relay
from ..messages import close_message
from ..reporting import logger
from ..types import FrameSource, Scope
from ._base import factory, middleware

__all__ = ["IdleClock", "wrap_idle_timeout"]

T = TypeVar("T")
_MESSAGE = "shallot_ws: wrap_idle_timeout closing an idle connection"


class IdleClock:
    """When a connection's client was last heard from, and when it counts as idle.

    ``heard(now)`` for each frame the handler takes; ``remaining(now, arrived)`` for the
    seconds left before the client has been silent for ``seconds`` (0 or less: idle), where
    ``arrived`` is when the newest frame waiting unread in the receiver arrived (``None``:
    none waits): the client was heard then. Pure: times are given, never read.
    """

    __slots__ = ("last", "seconds", "taken")

    def __init__(self, seconds: float, now: float) -> None:
        self.seconds = seconds
        self.last = now
        self.taken = 0  # frames the handler took

    def heard(self, now: float) -> None:
        """The handler took a frame at ``now``."""
        self.taken += 1
        self.last = now

    def remaining(self, now: float, arrived: float | None = None) -> float:
        """Seconds left before the client counts as idle; ``<= 0`` once it does."""
        if arrived is not None and arrived > self.last:
            self.last = arrived  # a frame waits unread: the client was heard when it came
        return self.last + self.seconds - now


class _Watch:
    """The idle timer of one connection; its cancellations are a ``CancelTimer``'s."""

    __slots__ = (
        "_canceller",
        "_clock",
        "_loop",
        "_receiver",
        "_timer",
        "done",
        "expired",
        "inside",
    )

    def __init__(self, seconds: float, receiver: FrameSource[Any]) -> None:
        self._loop = loop = asyncio.get_running_loop()
        self._receiver = receiver
        self._clock = IdleClock(seconds, loop.time())
        self._canceller = CancelTimer(message=_MESSAGE, gate=self._inside)
        self.inside = False  # the middleware is waiting for the handler's next message
        self.expired = False
        self.done = False
        self._timer: asyncio.TimerHandle | None = loop.call_later(seconds, self._fire)

    def heard(self, item: T) -> T:
        self._clock.heard(self._loop.time())
        return item

    def _inside(self) -> bool:
        return self.inside and not self.done

    def _fire(self) -> None:
        self._timer = None
        if self.done:
            return
        left = self._clock.remaining(self._loop.time(), self._arrived())
        if left > 0:
            self._timer = self._loop.call_later(left, self._fire)
            return
        self.expired = True
        if self.inside:  # stop the handler where it waits; again later if it swallows that
            seconds = self._clock.seconds
            self._canceller.cancel()
            self._canceller.arm(seconds, repeat=seconds)

    def _arrived(self) -> float | None:
        try:
            return self._receiver.arrived_at
        except Exception:  # a receiver of one's own without it: only taken frames count
            return None

    def consume(self, exc: BaseException) -> bool:
        """Whether the ``CancelledError`` ``exc`` is this watch's own alone (then consumed)."""
        return self._canceller.owns(exc)

    def stop(self) -> None:
        """The connection's generator is over: no timer, no cancellation left counted."""
        self.done = True
        self.inside = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._canceller.forget()  # cancellations the handler swallowed


@factory
def wrap_idle_timeout(seconds: float, code: int = 1001, reason: str = "idle timeout") -> Middleware:
    """The middleware that closes with ``code`` and ``reason`` a connection whose client has
    sent nothing for ``seconds``, even while the handler is busy elsewhere.

    The handler is cancelled where it waits (its ``finally`` blocks and ``async with`` exits
    run), then ``ws_close(code, reason)`` is sent. ``code`` and ``reason`` are checked now.
    """
    seconds = options.seconds(seconds, "wrap_idle_timeout")
    close = close_message(code, reason, "wrap_idle_timeout")

    def wrap(handler: HandlerFunction) -> HandlerFunction:
        async def wrapped(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
            watch = _Watch(float(seconds), receiver)
            try:
                async with relay(handler, scope, MappedReceiver(receiver, watch.heard)) as messages:
                    watch.inside = True
                    try:
                        async for message in messages:
                            watch.inside = False
                            if watch.expired:
                                break  # expired while the driver was sending: close now
                            yield message
                            if watch.expired:
                                break
                            watch.inside = True
                    except asyncio.CancelledError as exc:
                        watch.inside = False
                        if not watch.consume(exc):
                            raise
                    finally:
                        watch.inside = False
            finally:
                watch.stop()
            if watch.expired:
                logger.debug("wrap_idle_timeout closing with %d after %s s", code, seconds)
                yield dict(close)

        return wrapped

    return middleware(wrap)
