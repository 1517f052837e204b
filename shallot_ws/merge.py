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

Theory of operation. A broadcast ``Subscription`` is read in the handler's own task: its
messages are already in its bounded buffer, so ``__anext__`` takes one synchronously, and the
subscription's buffer and policy are its only bound (nothing is read ahead). Every other
source, the receiver included, is read by a small task into one bounded queue (``buffer``
items); such a source is paused while the queue is full, so a fast feed cannot use memory
faster than the handler takes its items, and the receiver keeps its own backpressure. When
nothing is ready anywhere, ``__anext__`` awaits one future, completed by whichever comes
first: a subscription's ``offer`` or ``end`` (through ``Subscription.notify``) or a task's
put into the queue. When several are ready they take turns, the queue as one and each
subscription as one, so no source starves another. A subscription that ended ends the merge
once its buffered messages are taken; one that overflowed (the ``"end"`` policy) ends it at
its next turn, its stale messages dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from types import TracebackType
from typing import Any

from .broadcast.subscription import EMPTY, Subscription
from .errors import InvalidHandler

__all__ = ["CLIENT", "Merge", "every", "merge"]

CLIENT = "client"


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
        "_pumped",
        "_queue",
        "_room",
        "_started",
        "_subscriptions",
        "_tasks",
        "_turn",
        "_turns",
        "_waiter",
        "ended",
    )

    def __init__(
        self, receiver: AsyncIterable[Any], sources: dict[str, AsyncIterable[Any]], buffer: int
    ) -> None:
        self._pumped: dict[str, AsyncIterable[Any]] = {CLIENT: receiver}
        # Who may give the next item, in turn: the queue (``None``), then each subscription.
        self._turns: list[tuple[str, Subscription | None]] = [(CLIENT, None)]
        self._subscriptions: list[Subscription] = []
        for name, source in sources.items():
            if isinstance(source, Subscription):
                self._turns.append((name, source))
                self._subscriptions.append(source)
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
                name, subscription = turns[index]
                index += 1
                if index == count:
                    index = 0
                if subscription is None:
                    if not queue:
                        continue
                    name, item = queue.popleft()
                    if self._room:
                        self._make_room()
                else:
                    try:
                        item = subscription.take()
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
            for subscription in self._subscriptions:
                subscription.notify(waiter)
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
        Subscriptions are left as they are (their own ``async with`` ends them)."""
        if self._done:
            return
        self._done = True
        for subscription in self._subscriptions:
            subscription.notify(None)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        for iterator in self._iterators:  # the receiver is the connection's, not ours
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()


def merge(
    receiver: AsyncIterable[Any], /, *, buffer: int = 16, **sources: AsyncIterable[Any]
) -> Merge:
    """Merge the client's frames (``receiver``, named "client") with other async iterables.

    Use as ``async with merge(receiver, feed=..., tick=every(1)) as events: async for
    source, item in events:``. ``buffer`` bounds the items read ahead of the handler; a
    broadcast ``Subscription`` is never read ahead (its own buffer bounds it).
    """
    if CLIENT in sources:
        raise InvalidHandler(f"merge expected source names other than {CLIENT!r}, got {CLIENT!r}")
    for name, source in sources.items():
        if not hasattr(source, "__aiter__"):
            raise InvalidHandler(
                f"merge expected async iterables as sources, got {type(source).__name__} "
                f"for {name!r}"
            )
    if type(buffer) is not int or buffer < 1:
        raise InvalidHandler(f"merge expected a positive int buffer, got {buffer!r}")
    return Merge(receiver, sources, buffer)


def every(seconds: float, *, first: float | None = None) -> AsyncIterator[int]:
    """A timer source: yields 0, 1, 2, ... every ``seconds`` (the first after ``first``,
    default ``seconds``), on a fixed schedule that does not drift with slow consumers."""
    for name, value in (("seconds", seconds), ("first", first)):
        if value is not None and (not isinstance(value, (int, float)) or value < 0):
            raise InvalidHandler(f"every expected a non-negative number for {name}, got {value!r}")
    if not seconds:
        raise InvalidHandler("every expected a positive number for seconds, got 0")
    return _ticks(seconds, seconds if first is None else first)


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
