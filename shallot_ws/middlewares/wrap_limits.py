"""wrap_limits: a maximum frame size (close 1009) and a maximum frame rate (close 1008).

Both are counted on the frames the client sent, as the handler takes them from the
receiver. The frame that breaks a limit is never handed to the handler: to the handler it
looks as if the client had left (``async for`` ends, ``receive()`` raises ``WSDisconnect``
carrying the limit's code and reason), and the middleware sends the close when the handler
ends or yields again; whatever the handler yields after that is dropped.

Sizes are bytes: of the UTF-8 encoding of a text frame, of a binary frame as it is. The rate
is exact: more than ``max_rate`` frames within any ``per`` seconds break it (a sliding window
keeping the times of the last ``max_rate`` frames, 8 bytes each). The pure part is
``frame_size``, ``RateWindow`` and ``LimitCheck``.

Put ``wrap_limits`` before (outside) ``wrap_json``: it needs the frames as they came, and an
oversized frame is then refused without being parsed. The server has limits of its own
(hypercorn refuses messages over 16 MiB with 1009).
"""

from __future__ import annotations

import asyncio
import math
from array import array
from collections.abc import AsyncGenerator, Callable
from typing import Any

from ..compose import HandlerFunction, Middleware, relay
from ..errors import ConfigError, InvalidMessageType, WSDisconnect
from ..options import count, seconds
from ..reporting import logger
from ..types import Frame, FrameSource, Scope, WebSocketCloseEvent
from ._base import factory, middleware

__all__ = ["LimitCheck", "RateWindow", "frame_size", "wrap_limits"]

FRAME_TOO_LARGE = "frame too large"
RATE_LIMIT_EXCEEDED = "rate limit exceeded"


def _not_a_frame(frame: object) -> InvalidMessageType:
    return InvalidMessageType(
        f"wrap_limits expected str or bytes frames, got {type(frame).__name__} "
        "(put wrap_limits before wrap_json in compose)"
    )


def frame_size(frame: Frame) -> int:
    """The size of a frame in bytes: UTF-8 for text, as it is for binary."""
    if isinstance(frame, str):
        return len(frame) if frame.isascii() else len(frame.encode("utf-8", "surrogatepass"))
    if isinstance(frame, (bytes, bytearray, memoryview)):
        return len(frame)
    raise _not_a_frame(frame)


def _too_large(frame: Frame, limit: int) -> bool:
    size = len(frame)
    if size > limit:  # every character is one byte at least
        return True
    if frame.__class__ is bytes or size * 4 <= limit:  # and four bytes at most
        return False
    return frame_size(frame) > limit


class RateWindow:
    """At most ``max_rate`` events within any ``per`` seconds: an exact sliding window.

    ``allow(now)`` records an event at ``now`` (seconds, non-decreasing) and says whether it
    keeps within the rate; a refused event is not recorded. It keeps the times of the last
    ``max_rate`` allowed events in a ring, 8 bytes each.
    """

    __slots__ = ("_index", "_times", "per")

    def __init__(self, max_rate: int, per: float = 1.0) -> None:
        self._times = array("d", [-math.inf]) * max_rate
        self._index = 0  # the oldest of the last ``max_rate`` allowed events
        self.per = per

    def allow(self, now: float) -> bool:
        """Record an event at ``now``; ``False`` if it is one more than the rate allows."""
        times = self._times
        index = self._index
        if now - times[index] < self.per:
            return False
        times[index] = now
        index += 1
        self._index = 0 if index == len(times) else index
        return True


class LimitCheck:
    """The limits of one connection: ``check(frame, now)`` returns the close message for a
    frame that breaks a limit, or ``None``. The size is checked first."""

    __slots__ = ("_window", "max_frame_size")

    def __init__(
        self, max_frame_size: int | None = None, max_rate: int | None = None, per: float = 1.0
    ) -> None:
        window = _validate(max_frame_size, max_rate, per)
        self.max_frame_size = max_frame_size
        self._window = RateWindow(max_rate, window) if max_rate is not None else None

    def __call__(self, frame: Frame, now: float = 0.0) -> WebSocketCloseEvent | None:
        limit = self.max_frame_size
        if limit is not None:
            if frame.__class__ is not str and frame.__class__ is not bytes:
                raise _not_a_frame(frame)
            if _too_large(frame, limit):
                return {"type": "websocket.close", "code": 1009, "reason": FRAME_TOO_LARGE}
        window = self._window
        if window is not None and not window.allow(now):
            return {"type": "websocket.close", "code": 1008, "reason": RATE_LIMIT_EXCEEDED}
        return None


def _validate(max_frame_size: object, max_rate: object, per: object) -> float:
    """The checked options; ``per`` as seconds."""
    for name, value in (("max_frame_size", max_frame_size), ("max_rate", max_rate)):
        if value is not None:
            count(value, f"wrap_limits expected {name} as a positive int")
    window = seconds(per, "wrap_limits per")
    if max_frame_size is None and max_rate is None:
        raise ConfigError("wrap_limits expected max_frame_size or max_rate, got neither")
    return window


class _LimitedReceiver:
    """The receiver the handler sees: frames checked as they are taken; after a broken
    limit, no more frames (as if the client had left with the limit's code)."""

    __slots__ = ("_check", "_clock", "_receiver", "close", "stop")

    def __init__(
        self, receiver: FrameSource[Frame], check: LimitCheck, clock: Callable[[], float]
    ) -> None:
        self._receiver = receiver
        self._check = check
        self._clock = clock
        self.close: WebSocketCloseEvent | None = None
        self.stop: WSDisconnect | None = None

    def _broken(self, frame: Frame) -> bool:
        close = self._check(frame, self._clock())
        if close is None:
            return False
        self.close = close
        self.stop = WSDisconnect(close["code"], close["reason"])
        return True

    async def __aiter__(self) -> AsyncGenerator[Frame, None]:
        if self.stop is not None:
            return
        frames = self._receiver.__aiter__()
        try:
            async for frame in frames:
                if self._broken(frame):
                    return
                yield frame
        finally:
            close = getattr(frames, "aclose", None)
            if close is not None:
                await close()

    async def receive(self) -> Frame:
        """The next frame; raises ``WSDisconnect`` once the client left or a limit broke."""
        if self.stop is not None:
            raise self.stop
        frame = await self._receiver.receive()
        if self._broken(frame):
            raise self.stop  # type: ignore[misc]
        return frame

    @property
    def buffered(self) -> int:
        """How many frames have arrived that the handler has not taken yet."""
        return 0 if self.stop is not None else self._receiver.buffered

    @property
    def dropped(self) -> int:
        """Frames dropped because the buffer stayed full while the handler did not read."""
        return self._receiver.dropped

    @property
    def arrived_at(self) -> float | None:
        """When the newest frame waiting unread arrived, or ``None`` (after a broken limit:
        nothing waits for the handler any more)."""
        return None if self.stop is not None else self._receiver.arrived_at

    @property
    def disconnected(self) -> WSDisconnect | None:
        """The limit's ``WSDisconnect`` once one broke, else the client's disconnect."""
        if self.stop is not None:
            return self.stop
        return self._receiver.disconnected


def _zero() -> float:
    return 0.0


@factory
def wrap_limits(
    max_frame_size: int | None = None, max_rate: int | None = None, per: float = 1.0
) -> Middleware:
    """The middleware that closes a connection whose client breaks a limit.

    ``max_frame_size``: a frame larger than this many bytes closes with 1009 "frame too
    large". ``max_rate``: more than this many frames within ``per`` seconds close with 1008
    "rate limit exceeded". Either may be ``None``; not both.
    """
    window = _validate(max_frame_size, max_rate, per)

    def wrap(handler: HandlerFunction) -> HandlerFunction:
        async def wrapped(scope: Scope, receiver: FrameSource[Frame]) -> AsyncGenerator[Any, None]:
            # the loop's clock, so that tests under a virtual clock control the rate window
            clock = asyncio.get_running_loop().time if max_rate is not None else _zero
            frames = _LimitedReceiver(receiver, LimitCheck(max_frame_size, max_rate, window), clock)
            async with relay(handler, scope, frames) as messages:
                try:
                    async for message in messages:
                        if frames.close is not None:
                            break  # the handler goes on after the limit broke: close instead
                        yield message
                except WSDisconnect as exc:
                    if exc is not frames.stop:
                        raise
            if frames.close is not None:
                logger.debug("wrap_limits closing with %d", frames.close["code"])
                yield frames.close

        return wrapped

    return middleware(wrap)
