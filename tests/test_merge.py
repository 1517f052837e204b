"""merge and every: one loop over the client and other sources, nothing left behind."""

from __future__ import annotations

import asyncio
import math

import pytest

from shallot_ws import ConfigError, ConfigTypeError, websocket, ws_close, ws_send
from shallot_ws.broadcast import Broadcast, Subscription
from shallot_ws.merge import EMPTY, Pollable, every, merge
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

    async with virtual_time() as clock, connect(quits) as ws:
        feed.queue.put_nowait("x")
        with pytest.raises(AppClosed):
            await ws.receive()
        await clock.advance(0)  # the app finishes on its own: the client has not left
        assert ws.finished and feed.closed and not ws.disconnect_received
        assert clock.now() == 0.0
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


class Frames:
    """A stand-in receiver: the frames the test puts, ending at ``None``."""

    def __init__(self):
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def __aiter__(self):
        return self._frames()

    async def _frames(self):
        while (frame := await self.queue.get()) is not None:
            yield frame


async def settle():
    for _ in range(10):
        await asyncio.sleep(0)


# -- broadcast subscriptions: read in the handler's task, without a task of their own -----------


async def test_a_subscription_beside_the_client_and_a_timer_comes_tagged_in_order(
    no_leaked_tasks,
):
    broadcast = Broadcast()
    started: list[int] = []

    @websocket
    async def room(scope, receiver):
        async with broadcast.subscribe("room") as feed:
            before = asyncio.all_tasks()
            async with merge(receiver, feed=feed, tick=every(10)) as events:
                started.append(len(asyncio.all_tasks() - before))
                yield ws_send("ready")
                async for source, item in events:
                    yield ws_send(f"{source} {item}")

    async with virtual_time() as clock, connect(room, timeout=60) as ws:
        assert await ws.receive() == "ready"
        await broadcast.publish("room", "a")
        assert await ws.receive() == "feed a"
        await ws.send("hi")
        assert await ws.receive() == "client hi"
        await broadcast.publish("room", "b")
        await broadcast.publish("room", "c")
        assert [await ws.receive(), await ws.receive()] == ["feed b", "feed c"]
        assert (await ws.receive(), clock.now()) == ("tick 0", 10)
        await ws.send("bye")
        await broadcast.publish("room", "d")
        assert sorted([await ws.receive(), await ws.receive()]) == ["client bye", "feed d"]
        assert (await ws.receive(), clock.now()) == ("tick 1", 20)
    assert started == [2]  # the client's and the timer's tasks: none for the subscription
    assert broadcast.subscribers("room") == 0
    no_leaked_tasks()


async def test_sources_ready_together_take_turns_so_a_full_subscription_starves_nobody(
    no_leaked_tasks,
):
    frames = Frames()
    feed = Subscription("room", 100, "drop_oldest")
    for number in range(100):
        feed.offer(number)
    async with merge(frames, feed=feed) as events:
        for frame in ("one", "two", "three"):
            frames.queue.put_nowait(frame)
        await settle()  # the client's task has queued its frames
        taken = [await events.__anext__() for _ in range(10)]
    assert [item for source, item in taken if source == "client"] == ["one", "two", "three"]
    assert taken[:6:2] == [("client", "one"), ("client", "two"), ("client", "three")]
    assert [item for source, item in taken if source == "feed"] == list(range(7))
    assert len(feed._messages) == 93  # the merge took nothing ahead of the handler
    no_leaked_tasks()


async def test_a_flooded_subscription_lets_the_clients_frames_through(no_leaked_tasks):
    broadcast = Broadcast()

    @websocket
    async def room(scope, receiver):
        async with (
            broadcast.subscribe("room", buffer=100) as feed,
            merge(receiver, feed=feed) as events,
        ):
            yield ws_send("ready")
            async for source, item in events:
                if source == "client":
                    yield ws_send(f"echo {item}")
                elif item % 50 == 0:
                    yield ws_send(f"feed {item}")

    async def flood():
        number = 0
        while True:
            for _ in range(20):
                await broadcast.publish("room", number)
                number += 1
            await asyncio.sleep(0)

    async with connect(room) as ws:
        assert await ws.receive() == "ready"
        flooding = asyncio.create_task(flood())
        try:
            for text in ("a", "b", "c"):
                await ws.send(text)
                for _ in range(100):
                    if await ws.receive() == f"echo {text}":
                        break
                else:
                    raise AssertionError(f"the frame {text!r} was starved by the feed")
        finally:
            flooding.cancel()
            await asyncio.wait((flooding,))
    assert broadcast.subscribers("room") == 0
    no_leaked_tasks()


@pytest.mark.parametrize("after", ["publish", "wait"])
async def test_a_subscription_that_overflows_ends_the_merge_without_its_stale_messages(
    no_leaked_tasks, after
):
    broadcast = Broadcast()
    ready = asyncio.Event()

    @websocket
    async def room(scope, receiver):
        async with broadcast.subscribe("room", buffer=2, policy="end") as feed:
            async with merge(receiver, feed=feed) as events:
                ready.set()
                if after == "publish":
                    for number in range(3):  # publishers run while the handler is elsewhere
                        await broadcast.publish("room", number)
                async for source, item in events:
                    yield ws_send(f"{source} {item}")
            yield ws_send(f"ended by {events.ended}, overflowed: {feed.overflowed}")
            yield ws_close(1013, "too slow")

    async with connect(room) as ws:
        await ready.wait()
        if after == "wait":
            await settle()  # the handler waits in the merge
            for number in range(3):
                await broadcast.publish("room", number)
        assert await ws.receive() == "ended by feed, overflowed: True"
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.reason) == (1013, "too slow")
    assert broadcast.subscribers("room") == 0
    no_leaked_tasks()


async def test_closing_the_broadcast_ends_the_merge_after_the_buffered_messages(no_leaked_tasks):
    broadcast = Broadcast()

    @websocket
    async def room(scope, receiver):
        async with broadcast.subscribe("room") as feed, merge(receiver, feed=feed) as events:
            yield ws_send("ready")
            async for source, item in events:
                yield ws_send(f"{source} {item}")
                if item == "wait":
                    await asyncio.sleep(0.01)  # meanwhile: two more, then the close
        yield ws_send(f"ended by {events.ended}: {feed.ended_by}")

    async with virtual_time(), connect(room) as ws:
        assert await ws.receive() == "ready"
        await broadcast.publish("room", "wait")
        assert await ws.receive() == "feed wait"
        await broadcast.publish("room", "one")
        await broadcast.publish("room", "two")
        await broadcast.aclose()
        assert [await ws.receive() for _ in range(3)] == [
            "feed one",
            "feed two",
            "ended by feed: broadcast closed",
        ]
        assert await ws.wait_closed() == 1000
    no_leaked_tasks()


async def test_closing_the_broadcast_wakes_a_merge_waiting_on_it(no_leaked_tasks):
    broadcast = Broadcast()
    async with broadcast.subscribe("room") as feed:
        async with merge(Frames(), feed=feed, tick=every(3600)) as events:
            waiting = asyncio.create_task(events.__anext__())
            await settle()
            assert not waiting.done()
            await broadcast.aclose()
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(waiting, 1)
        assert events.ended == "feed"
    no_leaked_tasks()


async def test_a_subscription_outlives_the_merge_it_was_read_in(no_leaked_tasks):
    broadcast = Broadcast()

    @websocket
    async def room(scope, receiver):
        async with broadcast.subscribe("room") as feed:
            async with merge(receiver, feed=feed) as events:
                yield ws_send("ready")
                async for source, item in events:
                    yield ws_send(f"{source} {item}")
                    if source == "client":
                        break  # leave the merge, read the feed alone
            yield ws_send("alone")
            async for item in feed:
                yield ws_send(f"then {item}")
                return

    async with connect(room) as ws:
        assert await ws.receive() == "ready"
        await broadcast.publish("room", 1)
        assert await ws.receive() == "feed 1"
        await ws.send("leave")
        assert [await ws.receive(), await ws.receive()] == ["client leave", "alone"]
        assert broadcast.subscribers("room") == 1  # the merge left the subscription alone
        await broadcast.publish("room", 2)
        assert await ws.receive() == "then 2"
        assert await ws.wait_closed() == 1000
    assert broadcast.subscribers("room") == 0
    no_leaked_tasks()


@pytest.mark.parametrize("leave", ["merge", "timed out receive"])
async def test_a_handler_waiting_elsewhere_after_a_cancelled_read_is_stopped_when_its_client_leaves(
    leave,
):
    ended = []

    @websocket
    async def handler(scope, receiver):
        if leave == "merge":  # the merge's read of the receiver is cancelled inline
            async with merge(receiver) as events:
                async for _ in events:
                    break
        else:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(receiver.receive(), 1)
        yield ws_send("elsewhere")
        try:
            await asyncio.sleep(3600)
            ended.append("slept an hour")
        finally:
            ended.append(asyncio.get_running_loop().time())

    async with virtual_time():
        async with connect(handler, timeout=10) as ws:
            if leave == "merge":
                await ws.send("x")
            assert await ws.receive() == "elsewhere"
            left = asyncio.get_running_loop().time()
        assert len(ended) == 1 and ended[0] - left <= 1.0  # within the drain timeout


async def test_a_source_that_raises_beside_a_subscription_ends_the_merge_with_its_error(
    no_leaked_tasks,
):
    feed = Subscription("room", 10, "drop_oldest")

    async def broken():
        await asyncio.sleep(0)
        raise LookupError("feed lost")
        yield  # an async generator

    with pytest.raises(LookupError, match="^feed lost$"):
        async with merge(Frames(), feed=feed, bad=broken()) as events:
            async for _ in events:
                pass
    feed.offer("kept")
    assert await feed.__anext__() == "kept"
    no_leaked_tasks()


async def test_a_subscriptions_hook_is_a_plain_take_and_one_future_to_wait_on():
    feed = Subscription("room", 2, "drop_oldest")
    assert feed.take() is EMPTY
    waiter = asyncio.get_running_loop().create_future()
    feed.notify(waiter)
    feed.offer("a")
    assert waiter.done() and feed.take() == "a"
    waiter = asyncio.get_running_loop().create_future()
    feed.notify(waiter)
    feed.notify(None)  # forgotten: not completed
    feed.offer("b")
    assert not waiter.done()
    feed.notify(waiter)
    feed.end("left")
    assert waiter.done() and feed.take() == "b"
    with pytest.raises(StopAsyncIteration):
        feed.take()


def test_bad_arguments_are_named():
    with pytest.raises(ConfigError, match="^merge expected source names other than 'client'"):
        merge([], client=Feed())
    with pytest.raises(
        ConfigTypeError, match="^merge expected async iterables as sources, got list for 'feed'$"
    ):
        merge(Feed(), feed=[1])
    with pytest.raises(ConfigError, match="^merge expected a positive int buffer, got 0$"):
        merge(Feed(), buffer=0)
    with pytest.raises(ConfigTypeError, match="^merge expected a positive int buffer, got 2.0$"):
        merge(Feed(), buffer=2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "text"),
    [
        ((-1,), {}, ConfigError, "every expected a positive number of seconds, got -1"),
        ((0,), {}, ConfigError, "every expected a positive number of seconds, got 0"),
        ((math.nan,), {}, ConfigError, "every expected a positive number of seconds, got nan"),
        ((math.inf,), {}, ConfigError, "every expected a positive number of seconds, got inf"),
        ((True,), {}, ConfigTypeError, "every expected a positive number of seconds, got True"),
        (("1",), {}, ConfigTypeError, "every expected a positive number of seconds, got '1'"),
        (
            (1,),
            {"first": math.nan},
            ConfigError,
            "every first expected a non-negative number of seconds or None, got nan",
        ),
        (
            (1,),
            {"first": -1},
            ConfigError,
            "every first expected a non-negative number of seconds or None, got -1",
        ),
        (
            (1,),
            {"first": False},
            ConfigTypeError,
            "every first expected a non-negative number of seconds or None, got False",
        ),
    ],
)
def test_every_refuses_what_would_spin_or_never_tick(args, kwargs, error, text):
    """Defect: ``every(nan)`` and ``every(True)`` were accepted: nan made every sleep 0 (a
    hot loop), True ticked every second as if it were 1."""
    with pytest.raises(error) as info:
        every(*args, **kwargs)
    assert type(info.value) is error
    assert str(info.value) == text


def test_every_takes_a_zero_first_delay():
    assert every(1, first=0) is not None


class Polled:
    """Not a broadcast subscription: just the two methods of ``Pollable``."""

    def __init__(self, items):
        self.items = list(items)
        self.waiter = None
        self.takes = 0

    def take(self):
        self.takes += 1
        if self.items:
            return self.items.pop(0)
        if self.waiter == "ended":
            raise StopAsyncIteration
        return EMPTY

    def notify(self, waiter):
        if self.waiter != "ended":
            self.waiter = waiter

    def put(self, item):
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def end(self):
        waiter, self.waiter = self.waiter, "ended"
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def test_any_pollable_source_is_read_in_the_handlers_task_without_an_iterator(
    no_leaked_tasks,
):
    """merge needs no broadcast: anything with ``take`` and ``notify`` is polled."""
    source = Polled(["a"])
    assert isinstance(source, Pollable) and not hasattr(source, "__aiter__")
    tasks_before = len(asyncio.all_tasks())
    async with merge(Frames(), feed=source) as events:
        assert len(asyncio.all_tasks()) == tasks_before + 1  # the receiver's task alone
        assert await anext(events) == ("feed", "a")
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)  # one turn of the loop: the merge is now waiting
        assert not waiting.done() and isinstance(source.waiter, asyncio.Future)
        source.put("b")
        assert await waiting == ("feed", "b")
        source.end()
        with pytest.raises(StopAsyncIteration):
            await anext(events)
        assert events.ended == "feed"
    no_leaked_tasks()
