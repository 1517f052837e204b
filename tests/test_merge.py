"""merge and every: one loop over the client and other sources, nothing left behind."""

from __future__ import annotations

import asyncio

import pytest

from shallot_ws import InvalidHandler, websocket, ws_close, ws_send
from shallot_ws.merge import every, merge
from shallot_ws.testing import AppClosed, connect, virtual_time


class Feed:
    """An async iterator fed by the test, recording whether it was closed."""

    def __init__(self):
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.closed = False

    def __aiter__(self):
        return self._items()

    async def _items(self):
        try:
            while True:
                yield await self.queue.get()
        finally:
            self.closed = True


async def test_frames_and_feed_items_come_tagged_and_the_merge_ends_with_the_client(
    no_leaked_tasks,
):
    feed = Feed()
    seen: list[tuple[str, object]] = []
    ended: list[str | None] = []

    @websocket
    async def both(scope, receiver):
        async with merge(receiver, feed=feed) as events:
            async for source, item in events:
                seen.append((source, item))
                yield ws_send(f"{source}: {item}")
        ended.append(events.ended)
        yield ws_send("never: the client is gone")

    async with connect(both) as ws:
        await ws.send("hello")
        assert await ws.receive() == "client: hello"
        feed.queue.put_nowait("news")
        assert await ws.receive() == "feed: news"
        await ws.send(b"\x01")
        assert await ws.receive() == "client: b'\\x01'"
        await ws.close()
    assert seen == [("client", "hello"), ("feed", "news"), ("client", b"\x01")]
    assert feed.closed and ended == ["client"]
    no_leaked_tasks()


async def test_every_ticks_on_schedule_beside_the_client():
    @websocket
    async def ticker(scope, receiver):
        async with merge(receiver, tick=every(60)) as events:
            async for source, item in events:
                if source == "tick" and item == 3:
                    yield ws_close(4000, "three ticks")
                yield ws_send(f"{source} {item}")

    async with virtual_time() as clock, connect(ticker, timeout=120) as ws:
        ticks = []
        for _ in range(3):
            ticks.append((await ws.receive(), clock.now()))
        assert ticks == [("tick 0", 60), ("tick 1", 120), ("tick 2", 180)]  # in no real time
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert info.value.code == 4000


async def test_a_yielded_close_inside_the_merge_stops_every_source_at_once(no_leaked_tasks):
    feed = Feed()

    @websocket
    async def quits(scope, receiver):
        async with merge(receiver, feed=feed) as events:
            async for _source, _item in events:
                yield ws_close(4001, "bye")

    async with connect(quits) as ws:
        feed.queue.put_nowait("x")
        with pytest.raises(AppClosed):
            await ws.receive()
        for _ in range(100):  # the app finishes on its own: the client has not left
            if ws.finished:
                break
            await asyncio.sleep(0.001)
        assert ws.finished and feed.closed and not ws.disconnect_received
    no_leaked_tasks()


async def test_a_source_that_raises_ends_the_merge_with_its_error_after_clean_up():
    feed = Feed()

    async def broken():
        yield "one"
        raise LookupError("feed lost")

    @websocket
    async def handler(scope, receiver):
        async with merge(receiver, bad=broken(), feed=feed) as events:
            async for source, item in events:
                yield ws_send(f"{source} {item}")

    async with connect(handler, raise_app_exceptions=False) as ws:
        assert await ws.receive() == "bad one"
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert info.value.code == 1011
    assert [type(e) for e in ws.app_exceptions] == [LookupError]
    assert feed.closed


async def test_a_source_that_ends_ends_the_merge_and_says_which():
    async def two():
        yield 1
        yield 2

    @websocket
    async def handler(scope, receiver):
        async with merge(receiver, nums=two()) as events:
            async for source, item in events:
                yield ws_send(f"{source} {item}")
        yield ws_send(f"ended by {events.ended}")

    async with connect(handler) as ws:
        assert [await ws.receive() for _ in range(3)] == ["nums 1", "nums 2", "ended by nums"]
        assert await ws.wait_closed() == 1000


def test_bad_arguments_are_named():
    with pytest.raises(InvalidHandler, match="^merge expected source names other than 'client'"):
        merge([], client=Feed())
    with pytest.raises(InvalidHandler, match="^merge expected async iterables as sources, "
                       "got list for 'feed'$"):
        merge(Feed(), feed=[1])
    with pytest.raises(InvalidHandler, match="^merge expected a positive int buffer, got 0$"):
        merge(Feed(), buffer=0)
    with pytest.raises(InvalidHandler, match="^every expected a non-negative number for "
                       "seconds, got -1$"):
        every(-1)
    with pytest.raises(InvalidHandler, match="^every expected a positive number for seconds"):
        every(0)
