"""Merging sources: one ``async for`` over the client's frames and any other async iterators.

::

    async with merge(receiver, feed=subscription, tick=every(5)) as events:
        async for source, item in events:
            if source == "client":
                ...  # a frame from the client
            elif source == "feed":
                yield ws_send(item)

Items come as they arrive, each with the name of its source ("client" for the receiver).
The merge lasts while all its sources last: it ends when the receiver ends (the client left)
or when any other source ends (a subscription that overflowed, a finite feed), and
``events.ended`` then names that source. It then stops every other source: its pending read
is cancelled, its task awaited, and the source closed (``aclose``) if it can be. A source
that raises ends the merge with that exception, after the same clean-up. Leaving the
``async with`` block early (a ``break``, a yielded close, the driver closing the handler,
a cancellation) cleans up the same way, in the same task: nothing outlives the connection.
Items already read into the merge but not yet taken are dropped then: a handler that goes
on reading the receiver after leaving the merge early may miss up to ``buffer`` frames (a
subscription's messages stay in the subscription: the merge never takes them ahead).

Theory of operation. A ``Pollable`` source (a broadcast ``Subscription`` is one) is read in
the handler's own task: its items are already in its bounded buffer, so ``__anext__`` takes
one synchronously, and the source's buffer and policy are its only bound (nothing is read
ahead). Every other source, the receiver included, is read by a small task into one bounded
queue (``buffer`` items); such a source is paused while the queue is full, so a fast feed
cannot use memory faster than the handler takes its items, and the receiver keeps its own
backpressure. When
nothing is ready anywhere, ``__anext__`` awaits one future, completed by whichever comes
first: a pollable source's new item or end (through its ``notify``) or a task's put into
the queue. When several are ready they take turns, the queue as one and each pollable source
as one, so no source starves another. A pollable source ends the merge when its ``take``
raises ``StopAsyncIteration`` (a subscription: once ended and its buffer taken, or at once
after an overflow).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from .errors import ConfigError, ConfigTypeError
from .options import count, optional_seconds
from .options import seconds as duration

__all__ = ["CLIENT", "EMPTY", "Merge", "Pollable", "every", "merge"]

CLIENT = "client"


class _Empty:
    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: Any = _Empty()  # ``Pollable.take()``: nothing ready yet, wait with ``notify``


@runtime_checkable
class Pollable(Protocol):
    """A source that ``merge`` reads in the handler's own task, without a task of its own:
    what a broadcast ``Subscription`` is. Any object with these two methods is one."""

    def take(self) -> Any:
        """The next item at once, ``EMPTY`` when none is ready; ``StopAsyncIteration``
        once the source is over."""

    def notify(self, waiter: asyncio.Future[None] | None) -> None:
        """Complete ``waiter`` (unless done) when an item is ready or the source ends; one
        waiter at a time, the last given; ``None`` forgets it."""


class _Last:
    """In place of an item: its source ended (``error`` is ``None``) or raised ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error


_ENDED = _Last()


class Merge:
    """The merged stream of ``merge``: an async context manager and an async iterator of
    ``(source name, item)`` pairs."""

    __slots__ = (
        "_buffer",
        "_done",
        "_iterators",
        "_polled",
        "_pumped",
        "_queue",
        "_room",
        "_started",
        "_tasks",
        "_turn",
        "_turns",
        "_waiter",
        "ended",
    )

    def __init__(
        self,
        receiver: AsyncIterable[Any],
        sources: dict[str, AsyncIterable[Any] | Pollable],
        buffer: int,
    ) -> None:
        self._pumped: dict[str, AsyncIterable[Any]] = {CLIENT: receiver}
        # Who may give the next item, in turn: the queue (``None``), then each pollable source.
        self._turns: list[tuple[str, Pollable | None]] = [(CLIENT, None)]
        self._polled: list[Pollable] = []
        for name, source in sources.items():
            if isinstance(source, Pollable):
                self._turns.append((name, source))
                self._polled.append(source)
            else:
                self._pumped[name] = source
        self._turn = 0  # the index in ``_turns`` of the first to ask next time
        self._queue: deque[tuple[str, Any]] = deque()  # what the tasks read, at most ``buffer``
        self._buffer = buffer
        self._room: list[asyncio.Future[None]] = []  # tasks waiting for room in the queue
        self._waiter: asyncio.Future[None] | None = None  # the handler waits on it
        self._tasks: list[asyncio.Task[None]] = []
        self._iterators: list[AsyncIterator[Any]] = []  # the tasks' ones, but the receiver's
        self._done = False
        self._started = False
        self.ended: str | None = None  # the source whose end ended the merge

    async def __aenter__(self) -> Merge:
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Merge:
        self._start()
        return self

    async def __anext__(self) -> tuple[str, Any]:
        turns = self._turns
        count = len(turns)
        queue = self._queue
        while not self._done:
            index = self._turn
            for _ in turns:  # each in turn, from ``_turn``: the first with something ready
                name, polled = turns[index]
                index += 1
                if index == count:
                    index = 0
                if polled is None:
                    if not queue:
                        continue
                    name, item = queue.popleft()
                    if self._room:
                        self._make_room()
                else:
                    try:
                        item = polled.take()
                    except StopAsyncIteration:
                        item = _ENDED
                    if item is EMPTY:
                        continue
                self._turn = index
                if type(item) is not _Last:
                    return name, item
                if item.error is not None:
                    await self.aclose()  # a source raised: stop the others, then raise it
                    raise item.error
                self.ended = name
                await self.aclose()
                raise StopAsyncIteration
            # Nothing ready anywhere: wait for the first that is.
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            for source in self._polled:
                source.notify(waiter)
            await waiter
        raise StopAsyncIteration

    def _start(self) -> None:
        if self._started or self._done:
            return
        self._started = True
        loop = asyncio.get_running_loop()
        for name, source in self._pumped.items():
            iterator = source.__aiter__()
            if name != CLIENT:
                self._iterators.append(iterator)
            self._tasks.append(loop.create_task(self._pump(name, iterator)))

    async def _pump(self, name: str, iterator: AsyncIterator[Any]) -> None:
        try:
            async for item in iterator:
                await self._put(name, item)
        except Exception as exc:
            await self._put(name, _Last(exc))
        else:
            await self._put(name, _ENDED)

    async def _put(self, name: str, item: Any) -> None:
        """Queue ``item`` once there is room, and wake the handler if it waits."""
        while len(self._queue) >= self._buffer:
            room = asyncio.get_running_loop().create_future()
            self._room.append(room)
            await room
        self._queue.append((name, item))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _make_room(self) -> None:
        """An item was taken: the tasks waiting to put theirs may try again."""
        for room in self._room:
            if not room.done():
                room.set_result(None)
        self._room.clear()

    async def aclose(self) -> None:
        """Stop every source: cancel the pending reads, await the tasks, close the sources.
        Pollable sources are left as they are (a subscription's ``async with`` ends it)."""
        if self._done:
            return
        self._done = True
        for source in self._polled:
            source.notify(None)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        for iterator in self._iterators:  # the receiver is the connection's, not ours
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()


def merge(
    receiver: AsyncIterable[Any], /, *, buffer: int = 16, **sources: AsyncIterable[Any] | Pollable
) -> Merge:
    """Merge the client's frames (``receiver``, named "client") with other async iterables.

    Use as ``async with merge(receiver, feed=..., tick=every(1)) as events: async for
    source, item in events:``. ``buffer`` bounds the items read ahead of the handler; a
    ``Pollable`` source (a broadcast ``Subscription``) is never read ahead (its own buffer
    bounds it).
    """
    if CLIENT in sources:
        raise ConfigError(f"merge expected source names other than {CLIENT!r}, got {CLIENT!r}")
    for name, source in sources.items():
        if not hasattr(source, "__aiter__") and not isinstance(source, Pollable):
            raise ConfigTypeError(
                f"merge expected async iterables as sources, got {type(source).__name__} "
                f"for {name!r}"
            )
    count(buffer, "merge expected a positive int buffer")
    return Merge(receiver, sources, buffer)


def every(seconds: float, *, first: float | None = None) -> AsyncIterator[int]:
    """A timer source: yields 0, 1, 2, ... every ``seconds`` (the first after ``first``,
    default ``seconds``), on a fixed schedule that does not drift with slow consumers.
    Both are checked now: finite numbers, ``seconds`` positive, ``first`` >= 0."""
    period = duration(seconds, "every")
    delay = optional_seconds(first, "every first", zero=True)
    return _ticks(period, period if delay is None else delay)


async def _ticks(seconds: float, first: float) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    due = loop.time() + first
    tick = 0
    while True:
        await asyncio.sleep(max(0.0, due - loop.time()))
        yield tick
        tick += 1
        due += seconds
        now = loop.time()
        if due < now:  # the consumer was slower than the period: skip, do not burst
            due = now + seconds - ((now - due) % seconds)
