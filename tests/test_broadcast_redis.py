"""The Redis backends against a real redis-server: delivery between processes' broadcasts,
policies, history without gap or repeat, recovery after the broker is killed and restarted,
clear errors when it is unreachable, and nothing left running after close."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import pytest

from shallot_ws import ConfigError, InvalidMessageType, websocket, ws_close, ws_send
from shallot_ws.broadcast import Broadcast
from shallot_ws.errors import BroadcastError
from shallot_ws.merge import merge
from shallot_ws.testing import AppClosed, connect

pytestmark = pytest.mark.server
SCHEMES = ("redis", "redis-stream")


def url_of(server, scheme: str) -> str:
    return server.url.replace("redis", scheme, 1)


async def take(subscription, count: int, timeout: float = 5.0) -> list:
    """The next ``count`` messages, failing if they do not come within ``timeout``."""

    async def taking():
        return [await subscription.__anext__() for _ in range(count)]

    return await asyncio.wait_for(taking(), timeout)


def tasks_left() -> set[asyncio.Task]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_message_reaches_every_subscriber_of_every_broadcast(redis_server, scheme):
    url = url_of(redis_server, scheme)
    async with Broadcast(url) as here, Broadcast(url) as there:
        async with (
            here.subscribe("room") as near,
            there.subscribe("room") as far,
            there.subscribe("other") as other,
        ):
            for message in ("text", b"\x00bytes", {"user": "ada", "n": [1, 2.5, None]}):
                await here.publish("room", message)
            expected = ["text", b"\x00bytes", {"user": "ada", "n": [1, 2.5, None]}]
            assert await take(near, 3) == expected
            assert await take(far, 3) == expected
            await there.publish("other", "only other")
            assert await take(other, 1) == ["only other"]
            assert (here.subscribers("room"), there.subscribers("room")) == (1, 1)
        assert there.subscribers("room") == 0
    assert tasks_left() == set()


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_what_a_broker_cannot_carry_is_refused_before_publishing(redis_server, scheme):
    async with Broadcast(url_of(redis_server, scheme)) as broadcast:
        with pytest.raises(
            InvalidMessageType,
            match="^publish expected a str, bytes or "
            "JSON-serializable message for a broker, got set ",
        ):
            await broadcast.publish("room", {1, 2})
        with pytest.raises(InvalidMessageType, match="got float"):
            await broadcast.publish("room", float("nan"))


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(
    ("policy", "kept", "overflowed"),
    [("drop_oldest", [7, 8, 9], False), ("drop_newest", [0, 1, 2], False), ("end", [], True)],
)
async def test_a_slow_subscriber_loses_by_its_policy_counted_and_delays_nobody(
    redis_server, scheme, policy, kept, overflowed
):
    async with (
        Broadcast(url_of(redis_server, scheme)) as broadcast,
        broadcast.subscribe("feed", buffer=3, policy=policy) as slow,
        broadcast.subscribe("feed", buffer=20) as fast,
    ):
        for number in range(10):
            await broadcast.publish("feed", number)
        assert await take(fast, 10) == list(range(10))
        assert [message async for message in _buffered(slow)] == kept
        assert slow.dropped == (7 if policy != "end" else 1)
        assert slow.overflowed is overflowed


async def _buffered(subscription):
    while subscription._messages and not subscription.overflowed:
        yield await subscription.__anext__()


async def test_streams_give_history_then_live_messages(redis_server):
    url = url_of(redis_server, "redis-stream")
    async with Broadcast(url, keep=5) as broadcast:
        for number in range(20):
            await broadcast.publish("log", number)
        async with (
            broadcast.subscribe("log", history=5) as late,
            broadcast.subscribe("log", history=2) as later,
            broadcast.subscribe("log") as live_only,
        ):
            await broadcast.publish("log", "live")
            assert late.history == [15, 16, 17, 18, 19] and await take(late, 1) == ["live"]
            assert later.history == [18, 19] and await take(later, 1) == ["live"]
            assert live_only.history == [] and await take(live_only, 1) == ["live"]
        async with broadcast.subscribe("never-written", history=5) as empty:
            await broadcast.publish("never-written", "first")
            assert empty.history == [] and await take(empty, 1) == ["first"]


async def test_joining_with_history_while_publishing_leaves_no_gap_and_no_repeat(redis_server):
    url = url_of(redis_server, "redis-stream")
    total = 300
    async with Broadcast(url, keep=1000) as publisher, Broadcast(url, keep=1000) as joiner:
        joins = 12
        published = [asyncio.Event() for _ in range(joins)]  # the i-th: i * 10 published

        async def publish_all():
            for number in range(total):
                await publisher.publish("seq", number)
                if number % 10 == 0:
                    if number // 10 < joins:
                        published[number // 10].set()
                    await asyncio.sleep(0)  # one loop turn: a join may go on meanwhile

        async def join_at(moment: asyncio.Event, history: int) -> list:
            await moment.wait()
            async with joiner.subscribe("seq", history=history, buffer=1000) as subscription:
                received = list(subscription.history)
                while not received or received[-1] != total - 1:
                    received.extend(await take(subscription, 1))
                return received

        publishing = asyncio.create_task(publish_all())
        runs = await asyncio.gather(*(join_at(published[i], 40) for i in range(joins)))
        await publishing
    for received in runs:
        assert received == list(range(received[0], total)), received[:5]


class Lost(logging.Handler):
    """``lost`` is set once a broadcast logs that its connection to the broker is lost."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lost = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "is lost" in record.getMessage():
            self.lost.set()


async def test_streams_lose_nothing_when_redis_is_killed_and_restarted_mid_stream(redis_server):
    url = url_of(redis_server, "redis-stream")
    total, kill_at = 120, 40
    logger = logging.getLogger("shallot_ws")
    watching = Lost()
    logger.addHandler(watching)
    async with (
        Broadcast(url, keep=1000) as publisher,
        Broadcast(url, keep=1000) as listener,
        listener.subscribe("orders", buffer=1000) as subscription,
    ):
        for number in range(total):
            if number == kill_at:
                redis_server.kill()
                with pytest.raises(BroadcastError, match="unreachable"):
                    await publisher.publish("orders", "lost: redis is down")
                await asyncio.wait_for(watching.lost.wait(), 10)  # the listener's reader failed
                redis_server.restart()  # it answers PING when this returns
            for attempt in range(3):  # a publisher retries what the broker refused
                try:
                    await publisher.publish("orders", number)
                    break
                except BroadcastError:  # a pooled connection of before the kill
                    assert attempt < 2
        received = await take(subscription, total, timeout=15)
    logger.removeHandler(watching)
    assert received == list(range(total))


async def test_pub_sub_resubscribes_after_a_restart_at_most_once(redis_server):
    url = url_of(redis_server, "redis")
    async with (
        Broadcast(url) as publisher,
        Broadcast(url) as listener,
        listener.subscribe("news", buffer=100) as subscription,
    ):
        await publisher.publish("news", "before")
        assert await take(subscription, 1) == ["before"]
        redis_server.kill()
        with pytest.raises(BroadcastError, match="unreachable"):
            await publisher.publish("news", "while down: nobody hears this")
        redis_server.restart()
        received = []
        # once the listener has subscribed again, a message gets through
        while "after" not in received:
            with contextlib.suppress(BroadcastError):  # not back yet
                await publisher.publish("news", "after")
            try:
                received.extend(await take(subscription, 1, timeout=0.2))
            except asyncio.TimeoutError:
                continue
        assert set(received) == {"after"}


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_an_unreachable_broker_is_a_clear_error(scheme):
    async with Broadcast(f"{scheme}://ada:secret@127.0.0.1:1/0") as broadcast:
        expected = (
            rf"^publish to 'room': the broker at {scheme}://ada:\*\*\*@127.0.0.1:1/0 is "
            r"unreachable \(.*127.0.0.1:1"
        )
        with pytest.raises(BroadcastError, match=expected):
            await broadcast.publish("room", "hi")
        with pytest.raises(BroadcastError, match="^subscribe to 'room': the broker at "):
            async with broadcast.subscribe("room"):
                pass
        assert broadcast.subscribers("room") == 0


def test_pub_sub_refuses_history_clearly():
    with pytest.raises(
        ConfigError,
        match=r"^a redis:// broadcast \(pub/sub\) keeps no "
        r"messages, got keep=5; use redis-stream:// for history$",
    ):
        Broadcast("redis://127.0.0.1:1/0", keep=5)
    with pytest.raises(
        ConfigError,
        match="^subscribe asked for history=1, but this broadcast keeps 0 messages a channel",
    ):
        Broadcast("redis://127.0.0.1:1/0").subscribe("room", history=1)
    with pytest.raises(ConfigError, match="^a redis-stream:// broadcast keeps at least 1 "):
        Broadcast("redis-stream://127.0.0.1:1/0", keep=0)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_closing_ends_subscriptions_and_leaves_no_task(redis_server, scheme):
    broadcast = Broadcast(url_of(redis_server, scheme))
    async with broadcast.subscribe("room") as subscription:
        await broadcast.aclose()
        assert [message async for message in subscription] == []
        assert subscription.ended_by == "broadcast closed"
    assert tasks_left() == set()
    with pytest.raises(BroadcastError, match="is closed$"):
        await broadcast.publish("room", "late")


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_handler_merging_a_redis_feed_cleans_up_when_its_client_leaves(
    redis_server, scheme
):
    broadcast = Broadcast(url_of(redis_server, scheme))

    @websocket
    async def room(scope, receiver):
        async with (
            broadcast.subscribe("room", buffer=2, policy="end") as feed,
            merge(receiver, feed=feed) as events,
        ):
            yield ws_send('"subscribed"')
            async for source, item in events:
                if source == "client":
                    await broadcast.publish("room", json.loads(item))
                else:
                    # real time on purpose: the feed comes from a real Redis (no virtual clock)
                    await asyncio.sleep(0.01)  # a handler slower than the feed
                    yield ws_send(json.dumps(item))
        if feed.overflowed:
            yield ws_close(1013, "too slow")

    try:
        async with connect(room) as ada, connect(room) as bob:
            for client in (ada, bob):
                assert await client.receive() == '"subscribed"'
            await ada.send(json.dumps({"from": "ada"}))
            for client in (ada, bob):
                assert json.loads(await client.receive()) == {"from": "ada"}
        assert broadcast.subscribers("room") == 0  # both handlers left their subscriptions

        async with connect(room) as slow:
            assert await slow.receive() == '"subscribed"'
            for number in range(100):
                await broadcast.publish("room", number)
            received = []
            with pytest.raises(AppClosed) as closed:
                while True:
                    received.append(json.loads(await slow.receive()))
            assert (closed.value.code, closed.value.reason) == (1013, "too slow")
            assert received == list(range(len(received))) and len(received) < 100
    finally:
        await broadcast.aclose()
    assert tasks_left() == set()


async def test_a_channel_key_replaced_by_other_data_ends_only_its_own_subscriptions(
    redis_server,
):
    import redis.asyncio

    url = url_of(redis_server, "redis-stream")
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        await raw.set("taken", "another app's value")
        async with Broadcast(url) as broadcast:
            with pytest.raises(
                BroadcastError,
                match=r"^publish to 'taken': the broker at "
                r"redis-stream://127.0.0.1:\d+/0 refused it \(WRONGTYPE ",
            ):
                await broadcast.publish("taken", "hi")
            with pytest.raises(BroadcastError, match="^subscribe to 'taken': .* refused it "):
                async with broadcast.subscribe("taken"):
                    pass
            async with broadcast.subscribe("good") as good, broadcast.subscribe("doomed") as doomed:
                await broadcast.publish("doomed", "before")
                assert await take(doomed, 1) == ["before"]
                await raw.delete("doomed")
                await raw.set("doomed", "replaced")  # the reader's next XREAD is refused
                await broadcast.publish("good", "still read")
                assert await take(good, 1) == ["still read"]
                assert [message async for message in doomed] == []
                assert doomed.ended_by == "the key 'doomed' holds a Redis string, not a stream"
                assert broadcast.subscribers("doomed") == 0
    finally:
        await raw.aclose()
