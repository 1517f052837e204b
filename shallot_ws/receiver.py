"""The receiver: what a handler reads its client from, and nothing else.

A facade over the connection's ``Inbound`` (inbound.py), which buffers the frames and which
the driver controls; the handler sees only the reading interface (``FrameSource[Frame]``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from typing import Any

from .errors import WSDisconnect
from .inbound import Inbound
from .types import Frame

__all__ = ["Receiver"]


class Receiver:
    """The client's frames, ``str`` for text and ``bytes`` for binary, in the order sent.

    ``async for frame in receiver`` ends when the client has left and every frame that arrived
    before is handed out; ``await receiver.receive()`` returns one frame and raises
    ``WSDisconnect`` (with the client's close code) from then on.
    """

    __slots__ = ("_inbound",)

    def __init__(self, inbound: Inbound) -> None:
        self._inbound = inbound

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self._inbound.frames()

    def receive(self) -> Coroutine[Any, Any, Frame]:
        """Return the next frame (awaitable); raise ``WSDisconnect`` once the client has left.

        A second task awaiting it while another waits gets ``ReceiverBusy`` at once; a read
        after the connection ended gets its ``WSDisconnect`` at once.
        """
        return self._inbound.receive()

    @property
    def buffered(self) -> int:
        """How many frames have arrived that the handler has not taken yet."""
        return self._inbound.buffered

    @property
    def dropped(self) -> int:
        """Frames dropped because the buffer stayed full while the handler did not read
        (only with ``stall_timeout`` set)."""
        return self._inbound.dropped

    @property
    def arrived_at(self) -> float | None:
        """When (the loop's ``time()``) the newest frame waiting unread arrived, or ``None``
        while none waits. A frame the handler takes as it comes is never waiting."""
        return self._inbound.arrived_at

    @property
    def disconnected(self) -> WSDisconnect | None:
        """The client's disconnect (its ``code`` and ``reason``), or ``None`` while connected.

        A send the server refused because the client is gone (``OSError``) counts: from then
        on it is ``WSDisconnect(1006)`` until the server's own disconnect event tells more.
        """
        return self._inbound.disconnected

    def __repr__(self) -> str:
        gone = self._inbound.disconnected
        state = "connected" if gone is None else f"gone ({gone.code})"
        return f"<Receiver {state}, {self._inbound.buffered} buffered>"
