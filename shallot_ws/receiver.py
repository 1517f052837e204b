"""The receiver: the client's frames as an async iterator, over a bounded buffer.

The handler's side of the connection's inbound half; how frames are read for it (inline or
through a watcher, bounded, with the stall policy) is ``Inbound``'s, in inbound.py.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from types import AsyncGeneratorType
from typing import cast

from .errors import WSDisconnect
from .inbound import Inbound
from .types import Frame

__all__ = ["Receiver"]


class Receiver(Inbound):
    """The client's frames, ``str`` for text and ``bytes`` for binary, in the order sent.

    ``async for frame in receiver`` ends when the client has left and every frame that arrived
    before is handed out; ``await receiver.receive()`` returns one frame and raises
    ``WSDisconnect`` (with the client's close code) from then on.
    """

    __slots__ = ()

    def __aiter__(self) -> AsyncIterator[Frame]:
        self._asked = True
        iterator = cast("AsyncGeneratorType[Frame, None]", self._iterate())
        self._iterator = iterator
        return iterator

    async def _iterate(self) -> AsyncGenerator[Frame, None]:
        frames = self._frames
        receive = self._receive
        check = self._check
        call_soon = self._loop.call_soon
        while True:
            if self._fast:
                # The fast path: buffer empty, no watcher, client there. The handler reads
                # inline, no task switch. While it waits here, ``ag_await`` of this generator
                # is set: ``_check`` looks at that. Only 'websocket.receive' carries 'text'.
                try:
                    event = await receive()
                except BaseException:  # cancelled: the handler reads no more here
                    self._look_soon()
                    raise
                frame = event.get("text")
                if frame is None:
                    frame = self._absorb(event)
                    if frame is None:
                        self._on_gone()
                        return
                self._taken_count += 1
                if not self._check_pending:
                    self._check_pending = True
                    call_soon(check)
                yield frame
            elif frames:
                frame = frames.pop(0)
                self._taken()
                yield frame
            elif self._disconnect is not None:
                return
            else:
                pulled = await self._pull()
                if pulled is None:
                    return
                yield pulled

    async def receive(self) -> Frame:
        """Return the next frame; raise ``WSDisconnect`` once the client has left."""
        self._asked = True
        frames = self._frames
        if frames:
            frame = frames.pop(0)
            self._taken()
            return frame
        if self._disconnect is None:
            pulled = await self._pull()
            if pulled is not None:
                return pulled
        assert self._disconnect is not None
        raise self._disconnect

    @property
    def buffered(self) -> int:
        """How many frames have arrived that the handler has not taken yet."""
        return len(self._frames)

    @property
    def dropped(self) -> int:
        """Frames dropped because the buffer stayed full while the handler did not read."""
        return self._dropped

    @property
    def arrived_at(self) -> float | None:
        """When (the loop's ``time()``) the newest frame waiting unread arrived, or ``None``
        while none waits. A frame the handler takes as it comes is never waiting."""
        return self._arrived if self._frames else None

    @property
    def disconnected(self) -> WSDisconnect | None:
        """The client's disconnect (its ``code`` and ``reason``), or ``None`` while connected.

        A send the server refused because the client is gone (``OSError``) counts: from then
        on it is ``WSDisconnect(1006)`` until the server's own disconnect event tells more.
        """
        if self._disconnect is None and self._quiet:  # a send failed: gone, no close frame
            return WSDisconnect(1006, "")
        return self._disconnect

    def __repr__(self) -> str:
        state = "connected" if self._disconnect is None else f"gone ({self._disconnect.code})"
        return f"<Receiver {state}, {len(self._frames)} buffered>"
