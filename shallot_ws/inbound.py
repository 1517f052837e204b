"""Reading the server's events for a handler: inline, through a watcher, bounded.

Theory of operation. Exactly one coroutine at a time awaits the server's ``receive()``:

* while the handler asks for a frame and the buffer is empty, the handler itself awaits
  ``receive()`` inline (no task switch per frame: the fast path of every echo);
* while the handler is elsewhere (yielding, sleeping, awaiting a feed), a *watcher* task
  reads on its behalf into the buffer, so a disconnect is noticed at once. It is started by a
  check that runs one loop iteration after the handler left the receiver, and only if the
  handler has not come back by then;
* if the handler asks while the watcher is mid-read, it waits for that read, and the watcher
  then stops, so the handler reads inline again;
* the watcher stops when the buffer holds ``limit`` frames: nobody reads, the server's queue
  fills, and its flow control pushes back on the client. Memory stays bounded;
* but a disconnect then waits behind the unread frames. If the buffer stays full for
  ``stall_timeout`` and the handler has never asked for a frame (a stream that only yields),
  the watcher reads on and drops what does not fit (counted, logged once), so the client's
  leaving is seen; once the handler asks for a frame, backpressure is back for good. A
  handler that has asked, however slowly it reads, never loses a frame.

When the client leaves, the buffered frames are still handed out, then iteration ends. The
driver is told through ``on_gone``, each time the handler takes a frame after that too, so it
can stop a handler that is not reading. ``Receiver`` (receiver.py) is the handler's side.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from types import AsyncGeneratorType

from .errors import ProtocolError, ReceiverBusy, WSDisconnect
from .reporting import logger
from .types import Frame, Message, Receive

__all__ = ["Inbound"]


class Inbound:
    """The reading machinery under a ``Receiver``: buffer, watcher, stall policy."""

    __slots__ = (
        "_active",
        "_arrived",
        "_asked",
        "_check_pending",
        "_disconnect",
        "_dropped",
        "_dropping",
        "_error",
        "_fast",
        "_frames",
        "_interrupt",
        "_iterator",
        "_limit",
        "_loop",
        "_name",
        "_on_gone",
        "_quiet",
        "_reader",
        "_reading",
        "_receive",
        "_stall",
        "_stall_mark",
        "_stall_timer",
        "_taken_count",
        "_waiter",
        "_watcher",
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
        self._interrupt = False  # ``_stop`` cancelled that task: its read ends in a disconnect
        self._iterator: AsyncGeneratorType[Frame, None] | None = None
        self._check_pending = False
        self._watcher: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._disconnect: WSDisconnect | None = None
        self._error: Exception | None = None
        self._fast = True  # buffer empty, no watcher, client there, no error
        self._stall = stall_timeout
        self._stall_timer: asyncio.TimerHandle | None = None
        self._stall_mark = 0
        self._taken_count = 0  # frames taken from the buffer
        self._dropping = False
        self._dropped = 0
        self._asked = False  # whether the handler ever asked for a frame
        self._quiet = False  # nothing more may be sent: the client left or a send failed
        self._name = name
        self._arrived = 0.0  # when the newest buffered frame arrived (loop.time())

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
        if self._watcher is not None:
            waiter = self._loop.create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
            if self._frames:
                frame = self._frames.pop(0)
                self._taken()
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
                raise self._disconnect from None  # type: ignore[misc]
            self._look_soon()
            raise
        self._reading = False
        self._reader = None
        pulled = self._absorb(event)
        if pulled is None:
            self._on_gone()
            return None
        self._taken()
        return pulled

    def _interrupted(self, exc: BaseException) -> bool:
        """Whether ``exc`` is ``_stop``'s interruption of a reader left behind (taken back)."""
        if not self._interrupt or not isinstance(exc, asyncio.CancelledError):
            return False
        self._interrupt = False
        task = asyncio.current_task()
        if sys.version_info >= (3, 11) and task is not None:
            return task.uncancel() == 0  # someone else's cancellation too: let it through
        return True  # pragma: no cover - Python 3.10 cannot count cancellations

    def _absorb(self, event: Message) -> Frame | None:
        """The frame an event carries, or ``None`` for the client's disconnect."""
        kind = event["type"]
        if kind == "websocket.receive":
            text = event.get("text")
            if text is not None:
                return text  # type: ignore[no-any-return]
            data = event.get("bytes")
            if data is not None:
                return data  # type: ignore[no-any-return]
            raise ProtocolError(
                "expected 'text' or 'bytes' in a 'websocket.receive' event, got neither"
            )
        if kind == "websocket.disconnect":
            self._disconnect = WSDisconnect(event.get("code", 1005), event.get("reason") or "")
            self._quiet = True
            self._fast = False
            return None
        raise ProtocolError(
            f"expected a 'websocket.receive' or 'websocket.disconnect' event, got {kind!r}"
        )

    def _taken(self) -> None:
        """The handler took a frame and goes elsewhere: see, soon, whether to watch for it."""
        self._taken_count += 1
        self._dropping = False  # it reads after all: backpressure again
        self._refresh()
        if self._quiet:
            self._on_gone()  # still reading after the client left: the driver re-arms its timer
        self._look_soon()

    def _look_soon(self) -> None:
        """The handler left the receiver: see, one loop iteration later, whether to watch."""
        if self._disconnect is None and not self._check_pending:
            self._check_pending = True
            self._loop.call_soon(self._check)

    def _refresh(self) -> None:
        """Recompute the fast-path flag after the state changed off the fast path."""
        self._fast = (
            not self._frames
            and self._watcher is None
            and self._disconnect is None
            and self._error is None
        )

    def _check(self) -> None:
        self._check_pending = False
        iterator = self._iterator
        if (
            self._active
            and not self._reading
            and (iterator is None or iterator.ag_await is None)
            and self._watcher is None
            and self._disconnect is None
            and self._error is None
            and len(self._frames) < self._limit
        ):
            self._fast = False
            self._watcher = self._loop.create_task(self._watch())

    async def _watch(self) -> None:
        frames = self._frames
        try:
            while True:
                frame = self._absorb(await self._receive())
                if frame is None:
                    break
                if len(frames) >= self._limit:  # only while dropping: see the module's doc
                    self._dropped += 1
                    continue
                frames.append(frame)
                self._arrived = self._loop.time()
                if self._waiter is not None:
                    break
                if len(frames) >= self._limit and not self._dropping:
                    self._arm_stall()
                    break
        except Exception as exc:  # a server that breaks the ASGI contract
            self._error = exc
        finally:
            self._watcher = None
            self._refresh()
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        if self._disconnect is not None or self._error is not None:
            self._on_gone()

    def _arm_stall(self) -> None:
        if self._stall is not None and self._stall_timer is None and not self._asked:
            self._stall_mark = self._taken_count
            self._stall_timer = self._loop.call_later(self._stall, self._stalled)

    def _stalled(self) -> None:
        """The buffer has been full for ``stall_timeout``: read on, dropping what overflows."""
        self._stall_timer = None
        if self._asked:  # a reader, however slow: it keeps backpressure, loses nothing
            return
        if self._taken_count != self._stall_mark:  # the handler read meanwhile
            if len(self._frames) >= self._limit:
                self._arm_stall()
            return
        if not self._active or self._watcher is not None or self._disconnect is not None:
            return
        if self._error is None:
            if not self._dropped:
                logger.warning(
                    "handler %s took no frame for %g s with %d waiting: dropping frames that "
                    "do not fit until it reads, so that its client leaving is noticed",
                    self._name,
                    self._stall,
                    len(self._frames),
                )
            self._dropping = True
            self._fast = False
            self._watcher = self._loop.create_task(self._watch())

    # -- the driver's side ----------------------------------------------------------------

    def _start(self) -> None:
        """The handler is about to run: watch for it until it asks for a frame."""
        self._check_pending = True
        self._loop.call_soon(self._check)

    def _lost(self) -> None:
        """The server refused a send because the client is gone (ASGI 2.4 ``OSError``): the
        client left with 1006, as if its disconnect had come (the server may never send it)."""
        if not self._quiet:
            # ``disconnected`` says 1006 from now on; the frames the server still holds are
            # read until its own disconnect (which then tells the code), so none is lost
            self._quiet = True
            self._on_gone()  # the same path as a disconnect: the drain time applies

    async def _stop(self, code: int = 1006) -> None:
        """The connection is over (closed with ``code``): stop watching, and wait until the
        watcher has finished. A read from now on, or one waiting now, is a ``WSDisconnect``
        with that code at once, never a wait for a server that sends nothing more."""
        self._active = False
        self._fast = False
        if self._disconnect is None:
            self._disconnect = WSDisconnect(code, "the connection is closed")
        reader = self._reader
        if self._reading and reader is not None and reader is not asyncio.current_task():
            self._interrupt = True  # a task the handler left reading: it gets the disconnect
            reader.cancel()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        watcher = self._watcher
        if watcher is not None:
            watcher.cancel()
            await asyncio.wait((watcher,))
            self._watcher = None  # cancelled before it started, its finally never ran
        waiter = self._waiter
        if waiter is not None and not waiter.done():  # a reader waiting on that watcher
            waiter.set_result(None)
