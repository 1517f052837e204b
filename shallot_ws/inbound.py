"""A connection's inbound half: the buffer of the client's frames, the handler's reads, and
the driver's controls.

Theory of operation. Exactly one coroutine at a time awaits the server's ``receive()``:

* while the handler asks for a frame and the buffer is empty, the handler itself awaits
  ``receive()`` inline (no task switch per frame: the fast path of every echo);
* while the handler is elsewhere (yielding, sleeping, awaiting a feed), the ``Watcher``
  (watcher.py) reads on its behalf into the buffer, bounded by ``limit``, so a disconnect is
  noticed at once; the stall policy is the watcher's too;
* if the handler asks while the watcher is mid-read, it waits for that read, and the watcher
  then stops, so the handler reads inline again.

When the client leaves, the buffered frames are still handed out, then iteration ends. The
driver is told through ``on_gone`` (the client left, or the server broke the protocol), each
time the handler takes a frame after that too, so it can stop a handler that is not reading.

Three sides, three sets of names: the handler's (``frames``, ``receive``, ``buffered``, ...,
reached through the ``Receiver`` facade in receiver.py), the watcher's (``idle``,
``absorb``, ``deliver``, ``watched``) and the driver's (``start``, ``release``, ``lost``,
``stop``, ``gone``, ``ended``, ``fault``, ``taken``). No other module reads its members.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from types import AsyncGeneratorType
from typing import cast

from .asgi import incoming
from .errors import ReceiverBusy, WSDisconnect
from .types import Frame, Message, Receive
from .watcher import Watcher

__all__ = ["Inbound"]


def _nobody() -> None:
    """``on_gone`` once the connection is over: the driver is not told any more."""


class Inbound:
    """The client's frames for one connection: buffered, read inline or by the watcher."""

    __slots__ = (
        "_active",
        "_arrived",
        "_asked",
        "_check_pending",
        "_deferred_at",
        "_disconnect",
        "_error",
        "_fast",
        "_frames",
        "_interrupt",
        "_iterator",
        "_limit",
        "_loop",
        "_name",
        "_on_gone",
        "_outer",
        "_quiet",
        "_reader",
        "_reading",
        "_receive",
        "_stall",
        "_taken",
        "_waiter",
        "_watcher",
        "recheck",
    )

    def __init__(
        self,
        receive: Receive,
        limit: int,
        loop: asyncio.AbstractEventLoop,
        on_gone: Callable[[], None],
        stall_timeout: float | None = None,
        name: str = "handler",
    ) -> None:
        self._receive = receive
        self._frames: list[Frame] = []  # at most ``limit``: pop(0) is cheap, and empty is small
        self._limit = limit
        self._loop = loop
        self._on_gone = on_gone
        self._active = True
        self._reading = False  # in ``receive()``'s inline read
        self._reader: asyncio.Task[object] | None = None  # the task in that read
        self._interrupt = False  # ``stop`` cancelled that task: its read ends in a disconnect
        self._iterator: AsyncGeneratorType[Frame, None] | None = None
        self._waiter: asyncio.Future[None] | None = None  # a reader waiting on the watcher
        self._check_pending = False  # a watcher check is scheduled
        self._outer: AsyncGeneratorType[object, None] | None = None  # the driver's generator
        self.recheck = False  # a check found the handler at a yield: look again after the send
        self._deferred_at = -1  # frames taken when a check last found it at a yield
        self._disconnect: WSDisconnect | None = None
        self._error: Exception | None = None
        self._fast = True  # buffer empty, no watcher, client there, no error
        self._taken = 0  # frames the handler took
        self._asked = False  # whether the handler ever asked for a frame
        self._quiet = False  # nothing more may be sent: the client left or a send failed
        self._arrived = 0.0  # when the newest buffered frame arrived (loop.time())
        self._stall = stall_timeout
        self._name = name
        self._watcher: Watcher | None = None  # made the first time the handler is elsewhere

    # -- the handler's side ---------------------------------------------------------------

    def frames(self) -> AsyncIterator[Frame]:
        """The frames as an async iterator: ends once the client left and all were taken."""
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
                # is set: ``idle`` looks at that. Only 'websocket.receive' carries 'text'.
                try:
                    event = await receive()
                except BaseException:  # cancelled: the handler reads no more here
                    self._look_soon()
                    raise
                frame = event.get("text")
                if frame is None:
                    frame = self.absorb(event)
                    if frame is None:
                        self._on_gone()
                        return
                self._taken += 1
                if not self._check_pending:
                    self._check_pending = True
                    call_soon(check)
                yield frame
            elif frames:
                frame = frames.pop(0)
                self._took()
                yield frame
            elif self._disconnect is not None:
                return
            else:
                pulled = await self._pull()
                if pulled is None:
                    return
                yield pulled

    async def receive(self) -> Frame:
        """The next frame; raises ``WSDisconnect`` once the client has left."""
        self._asked = True
        frames = self._frames
        if frames:
            frame = frames.pop(0)
            self._took()
            return frame
        if self._disconnect is None:
            pulled = await self._pull()
            if pulled is not None:
                return pulled
        raise cast(WSDisconnect, self._disconnect)

    @property
    def buffered(self) -> int:
        """How many frames have arrived that the handler has not taken yet."""
        return len(self._frames)

    @property
    def dropped(self) -> int:
        """Frames the stall policy dropped."""
        return 0 if self._watcher is None else self._watcher.dropped

    @property
    def arrived_at(self) -> float | None:
        """When the newest frame waiting unread arrived, or ``None`` while none waits."""
        return self._arrived if self._frames else None

    @property
    def disconnected(self) -> WSDisconnect | None:
        """The client's disconnect, ``WSDisconnect(1006)`` after a failed send, or ``None``."""
        if self._disconnect is None and self._quiet:  # a send failed: gone, no close frame
            return WSDisconnect(1006, "")
        return self._disconnect

    async def _pull(self) -> Frame | None:
        """The buffer is empty and the client not known gone: get a frame, or ``None``."""
        if self._error is not None:
            raise self._error
        iterator = self._iterator
        if (
            self._reading
            or self._waiter is not None
            or (iterator is not None and iterator.ag_await is not None)
        ):
            raise ReceiverBusy(
                "receive() expected one reader at a time, got a second task while another "
                "waits: read the receiver in one task and hand frames on (a queue), or use "
                "merge()"
            )
        if self._watching:
            waiter = self._loop.create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
            if self._frames:
                frame = self._frames.pop(0)
                self._took()
                return frame
            if self._error is not None:
                raise self._error
            return None
        self._reading = True
        self._reader = asyncio.current_task()
        try:
            event = await self._receive()
        except BaseException as exc:  # cancelled (a timeout, a merge stopping): nobody reads
            self._reading = False
            self._reader = None
            if self._interrupted(exc):
                raise cast(WSDisconnect, self._disconnect) from None
            self._look_soon()
            raise
        self._reading = False
        self._reader = None
        pulled = self.absorb(event)
        if pulled is None:
            self._on_gone()
            return None
        self._took()
        return pulled

    def _interrupted(self, exc: BaseException) -> bool:
        """Whether ``exc`` is ``stop``'s interruption of a reader left behind (taken back)."""
        if not self._interrupt or not isinstance(exc, asyncio.CancelledError):
            return False
        self._interrupt = False
        task = asyncio.current_task()
        if sys.version_info >= (3, 11) and task is not None:
            return task.uncancel() == 0  # someone else's cancellation too: let it through
        return True  # pragma: no cover - Python 3.10 cannot count cancellations

    def _took(self) -> None:
        """The handler took a frame and goes elsewhere: see, soon, whether to watch for it."""
        self._taken += 1
        if self._watcher is not None:
            self._watcher.reading()  # it reads after all: backpressure again
        self._refresh()
        if self._quiet:
            self._on_gone()  # still reading after the client left: the driver re-arms its timer
        self._look_soon()

    def _look_soon(self) -> None:
        """The handler left the receiver: see, one loop iteration later, whether to watch."""
        if self._disconnect is None and not self._check_pending:
            self._check_pending = True
            self._loop.call_soon(self._check)

    def _check(self) -> None:
        self._check_pending = False
        outer = self._outer
        if (
            outer is not None
            and outer.ag_await is None
            and self._taken != self._deferred_at
            and not self._quiet
        ):
            # The handler is at a yield, the driver sending what it yielded, and it read a
            # frame since the last such check (an echo, not a stream that only yields): it
            # is about to read again, no watcher needed. The driver asks again after the
            # send (``recheck``), in case it goes elsewhere instead.
            self._deferred_at = self._taken
            self.recheck = True
            return
        watcher = self._watcher
        if watcher is None:
            if not self.idle:
                return
            watcher = self._watcher = Watcher(
                self, self._receive, self._loop, self._limit, self._stall, self._name
            )
        watcher.check()

    @property
    def _watching(self) -> bool:
        return self._watcher is not None and self._watcher.running

    def _refresh(self) -> None:
        """Recompute the fast-path flag after the state changed off the fast path."""
        self._fast = (
            not self._frames
            and not self._watching
            and self._disconnect is None
            and self._error is None
        )

    # -- the watcher's side ---------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Whether the handler is elsewhere and the watcher may read for it: nobody reads
        inline, the client is there, no fault, room in the buffer."""
        iterator = self._iterator
        return (
            self._active
            and not self._reading
            and (iterator is None or iterator.ag_await is None)
            and self._disconnect is None
            and self._error is None
            and len(self._frames) < self._limit
        )

    @property
    def waiting(self) -> bool:
        """Whether a reader waits for the watcher's read."""
        return self._waiter is not None

    @property
    def asked(self) -> bool:
        """Whether the handler ever asked for a frame."""
        return self._asked

    @property
    def active(self) -> bool:
        """Whether the handler still runs (the driver has not released the inbound)."""
        return self._active

    def absorb(self, event: Message) -> Frame | None:
        """The frame an event carries, or ``None`` for the client's disconnect (recorded);
        raises ``ProtocolError`` for any other event."""
        got = incoming(event)
        if isinstance(got, WSDisconnect):
            self._disconnect = got
            self._quiet = True
            self._fast = False
            return None
        return got

    def watching(self) -> None:
        """The watcher starts reading: the handler leaves the fast path."""
        self._fast = False

    def deliver(self, frame: Frame) -> None:
        """The watcher read ``frame``: buffer it, and wake a reader waiting for it."""
        self._frames.append(frame)
        self._arrived = self._loop.time()

    def watched(self, error: Exception | None) -> None:
        """The watcher stopped (``error``: the server broke the protocol): wake a waiting
        reader, and tell the driver if the client left or the server faulted."""
        if error is not None:
            self._error = error
        self._refresh()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._disconnect is not None or self._error is not None:
            self._on_gone()

    # -- the driver's side ----------------------------------------------------------------

    @property
    def gone(self) -> bool:
        """Whether nothing more may be sent: the client left, or a send found it gone."""
        return self._quiet

    @property
    def ended(self) -> bool:
        """Whether the server's disconnect came (or ``stop`` ran): no frame comes any more."""
        return self._disconnect is not None

    @property
    def fault(self) -> Exception | None:
        """The server's breach of the ASGI protocol the watcher met, if any."""
        return self._error

    @property
    def taken(self) -> int:
        """How many frames the handler took so far."""
        return self._taken

    def start(self, handler: AsyncGenerator[object, None]) -> None:
        """The handler (the generator the driver runs) is about to run: watch for it
        whenever it is elsewhere, neither reading nor at a yield the driver is sending."""
        self._outer = cast("AsyncGeneratorType[object, None]", handler)
        self._look_soon()

    def look_again(self) -> None:
        """The driver sent what the handler yielded and resumes it: see again, one loop
        iteration later, whether to watch (a check found it at that yield)."""
        self.recheck = False
        self._look_soon()

    def release(self) -> None:
        """The handler is done with the client: no more watching for it."""
        self._active = False

    def lost(self) -> None:
        """The server refused a send because the client is gone (ASGI 2.4 ``OSError``): the
        client left with 1006, as if its disconnect had come (the server may never send it)."""
        if not self._quiet:
            # ``disconnected`` says 1006 from now on; the frames the server still holds are
            # read until its own disconnect (which then tells the code), so none is lost
            self._quiet = True
            self._on_gone()  # the same path as a disconnect: the drain time applies

    async def stop(self, code: int = 1006) -> None:
        """The connection is over (closed with ``code``): stop watching, and wait until the
        watcher has finished. A read from now on, or one waiting now, is a ``WSDisconnect``
        with that code at once, never a wait for a server that sends nothing more. The
        driver is not told anything any more."""
        self._active = False
        self._fast = False
        self._on_gone = _nobody
        if self._disconnect is None:
            self._disconnect = WSDisconnect(code, "the connection is closed")
        reader = self._reader
        if self._reading and reader is not None and reader is not asyncio.current_task():
            self._interrupt = True  # a task the handler left reading: it gets the disconnect
            reader.cancel()
        if self._watcher is not None:
            await self._watcher.stop()
        waiter = self._waiter
        if waiter is not None and not waiter.done():  # a reader waiting on that watcher
            waiter.set_result(None)
