"""Reading ahead for a handler that is elsewhere, bounded; and the opt-in stall policy.

Theory of operation. While the handler is not in the receiver (yielding, sleeping, awaiting
a feed), a *watcher* task reads the server's events on its behalf into the inbound buffer, so
a disconnect is noticed at once. It is started by a ``check`` that the inbound schedules one loop
iteration after the handler left the receiver, and only if the handler has not come back by
then:

* the watcher stops when a reader waits for it (the handler then reads inline again), and
  when the buffer holds ``limit`` frames: nobody reads, the server's queue fills, and its
  flow control pushes back on the client. Memory stays bounded;
* but a disconnect then waits behind the unread frames. With ``stall_timeout`` set (off by
  default), if the buffer stays full that long and the handler has never asked for a frame
  (a stream that only yields), the watcher reads on and drops what does not fit (counted,
  logged once), so the client's leaving is seen; once the handler asks for a frame,
  backpressure is back for good. A handler that has asked, however slowly it reads, never
  loses a frame.

The watcher works on its ``Feed`` (the ``Inbound``, inbound.py) through the feed's public
names only.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from .reporting import logger
from .types import Frame, Message, Receive

__all__ = ["Feed", "Watcher"]


class Feed(Protocol):
    """What the watcher reads into: the inbound half of one connection."""

    @property
    def idle(self) -> bool:
        """Whether the handler is elsewhere and there is room: the watcher may read."""
        ...

    @property
    def buffered(self) -> int:
        """How many frames wait in the buffer."""
        ...

    @property
    def waiting(self) -> bool:
        """Whether a reader waits for the watcher's read."""
        ...

    @property
    def asked(self) -> bool:
        """Whether the handler ever asked for a frame."""
        ...

    @property
    def active(self) -> bool:
        """Whether the handler still runs."""
        ...

    @property
    def ended(self) -> bool:
        """Whether no frame comes any more."""
        ...

    @property
    def fault(self) -> Exception | None:
        """The server's breach of the protocol, if any."""
        ...

    @property
    def taken(self) -> int:
        """How many frames the handler took."""
        ...

    def absorb(self, event: Message) -> Frame | None:
        """The frame ``event`` carries, or ``None`` for the client's disconnect."""
        ...

    def watching(self) -> None:
        """The watcher starts reading."""
        ...

    def deliver(self, frame: Frame) -> None:
        """Buffer a frame the watcher read."""
        ...

    def watched(self, error: Exception | None) -> None:
        """The watcher stopped, with the server's breach of the protocol if any."""
        ...


class Watcher:
    """The read-ahead task of one connection and its stall policy."""

    __slots__ = (
        "_dropping",
        "_feed",
        "_limit",
        "_loop",
        "_mark",
        "_name",
        "_receive",
        "_stall",
        "_task",
        "_timer",
        "dropped",
    )

    def __init__(
        self,
        feed: Feed,
        receive: Receive,
        loop: asyncio.AbstractEventLoop,
        limit: int,
        stall_timeout: float | None,
        name: str,
    ) -> None:
        self._feed = feed
        self._receive = receive
        self._loop = loop
        self._limit = limit
        self._stall = stall_timeout
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._mark = 0  # frames taken when the stall timer was armed
        self._dropping = False
        self.dropped = 0  # frames dropped by the stall policy

    @property
    def running(self) -> bool:
        """Whether the watcher is reading."""
        return self._task is not None

    def reading(self) -> None:
        """The handler took a frame: it reads after all, backpressure again."""
        self._dropping = False

    def check(self) -> None:
        """Start reading if the handler is elsewhere (its feed ``idle``) and nobody reads."""
        if self._task is None and self._feed.idle:
            self._feed.watching()
            self._task = self._loop.create_task(self._watch())

    async def _watch(self) -> None:
        feed = self._feed
        error: Exception | None = None
        try:
            while True:
                frame = feed.absorb(await self._receive())
                if frame is None:
                    break
                if feed.buffered >= self._limit:  # only while dropping: see the module's doc
                    self.dropped += 1
                    continue
                feed.deliver(frame)
                if feed.waiting:
                    break
                if feed.buffered >= self._limit and not self._dropping:
                    self._arm_stall()
                    break
        except Exception as exc:  # a server that breaks the ASGI contract
            error = exc
        finally:
            self._task = None
            feed.watched(error)

    def _arm_stall(self) -> None:
        if self._stall is not None and self._timer is None and not self._feed.asked:
            self._mark = self._feed.taken
            self._timer = self._loop.call_later(self._stall, self._stalled)

    def _stalled(self) -> None:
        """The buffer has been full for ``stall_timeout``: read on, dropping what overflows."""
        self._timer = None
        feed = self._feed
        if feed.asked:  # a reader, however slow: it keeps backpressure, loses nothing
            return
        if feed.taken != self._mark:  # the handler read meanwhile
            if feed.buffered >= self._limit:
                self._arm_stall()
            return
        if not feed.active or self._task is not None or feed.ended or feed.fault is not None:
            return
        if not self.dropped:
            logger.warning(
                "handler %s took no frame for %g s with %d waiting: dropping frames that "
                "do not fit until it reads, so that its client leaving is noticed",
                self._name,
                self._stall,
                feed.buffered,
            )
        self._dropping = True
        feed.watching()
        self._task = self._loop.create_task(self._watch())

    async def stop(self) -> None:
        """Stop the stall timer and the watcher, and wait until the watcher has finished."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.wait((task,))
            self._task = None  # cancelled before it started, its finally never ran
