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
on reading the receiver after leaving the merge early may miss up to ``buffer`` frames.

Each source is read by a small task into one bounded queue (``buffer`` items); a source is
paused while the queue is full, so a fast feed cannot use memory faster than the handler
takes its items, and the receiver keeps its own backpressure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from types import TracebackType
from typing import Any

from .errors import InvalidHandler

__all__ = ["CLIENT", "Merge", "every", "merge"]

CLIENT = "client"
_END = object()  # a source ended
_FAILED = object()  # a source raised


class Merge:
    """The merged stream of ``merge``: an async context manager and an async iterator of
    ``(source name, item)`` pairs."""

    def __init__(
        self, receiver: AsyncIterable[Any], sources: dict[str, AsyncIterable[Any]], buffer: int
    ) -> None:
        self._sources: dict[str, AsyncIterable[Any]] = {CLIENT: receiver, **sources}
        self._queue: asyncio.Queue[tuple[str, object, Any]] = asyncio.Queue(buffer)
        self._tasks: list[asyncio.Task[None]] = []
        self._iterators: list[AsyncIterator[Any]] = []
        self._done = False
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
        while not self._done:
            name, kind, item = await self._queue.get()
            if kind is None:
                return name, item
            if kind is _END:
                self.ended = name
                break
            await self.aclose()  # a source raised: stop the others, then raise it
            raise item
        await self.aclose()
        raise StopAsyncIteration

    def _start(self) -> None:
        if self._tasks or self._done:
            return
        loop = asyncio.get_running_loop()
        for name, source in self._sources.items():
            iterator = source.__aiter__()
            self._iterators.append(iterator)
            self._tasks.append(loop.create_task(self._pump(name, iterator)))

    async def _pump(self, name: str, iterator: AsyncIterator[Any]) -> None:
        put = self._queue.put
        try:
            async for item in iterator:
                await put((name, None, item))
        except Exception as exc:
            await put((name, _FAILED, exc))
        else:
            await put((name, _END, None))

    async def aclose(self) -> None:
        """Stop every source: cancel the pending reads, await the tasks, close the sources."""
        if self._done:
            return
        self._done = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        for iterator in self._iterators[1:]:  # the receiver is the connection's, not ours
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()


def merge(
    receiver: AsyncIterable[Any], /, *, buffer: int = 16, **sources: AsyncIterable[Any]
) -> Merge:
    """Merge the client's frames (``receiver``, named "client") with other async iterables.

    Use as ``async with merge(receiver, feed=..., tick=every(1)) as events: async for
    source, item in events:``. ``buffer`` bounds the items read ahead of the handler.
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
