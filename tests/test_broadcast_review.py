"""Review of the broadcast backends: joins cancelled or overtaken by ``aclose`` midway,
messages that shallot_ws did not publish, a listening connection that dies silently, a
broadcast used from two event loops, passwords in URLs, what a broker can carry. Each test
names the defect it reproduces. The backends are driven only from outside: ``Wire`` (a
proxy between a broadcast and its Redis) holds a command or its replies so that a race is
not left to chance, and Redis' own view (its clients, its pub/sub channels) is checked."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time

import pytest
import redis.asyncio

from shallot_ws import InvalidMessageType
from shallot_ws.broadcast import Broadcast
from shallot_ws.broadcast._redis import redacted
from shallot_ws.broadcast.codec import decode, encode
from shallot_ws.errors import BroadcastError, ConfigError, ConfigTypeError
from tests.redis_wire import Wire
from tests.serving import HOST
from tests.test_broadcast_redis import SCHEMES, take, tasks_left, url_of

server = pytest.mark.server


# Where a join awaits its broker, by backend: (scheme, the command held at the wire, how many
# of them pass first, whether Redis gets it and only its replies are held).
JOIN_AWAITS = {
    "redis/SUBSCRIBE": ("redis", b"SUBSCRIBE", 0, False),
    "redis/confirmation": ("redis", b"SUBSCRIBE", 0, True),
    "redis-stream/start": ("redis-stream", b"XREVRANGE", 0, False),
    "redis-stream/wake": ("redis-stream", b"XADD", 0, False),
    "redis-stream/history": ("redis-stream", b"XREVRANGE", 1, False),
}


@pytest.fixture
async def wire(redis_server):
    """The network between the broadcast under test and ``redis_server``."""
    between = Wire(redis_server.port)
    between.url = await between.start()
    yield between
    await between.aclose()


async def channels_subscribed(raw: redis.asyncio.Redis) -> list[bytes]:
    """The pub/sub channels Redis has subscribers for, as Redis sees it."""
    return sorted(await raw.pubsub_channels())


async def other_clients(raw: redis.asyncio.Redis) -> int:
    """How many connections the Redis has besides ``raw``'s."""
    own = await raw.client_id()
    return sum(1 for client in await raw.client_list() if int(client["id"]) != own)


async def until(condition, timeout: float = 5.0) -> None:
    """Wait (polling the broker's view, which lags a closed socket a little) for ``condition``."""

    async def polling():
        while not await condition():  # noqa: ASYNC110 (no event to wait for: Redis's view)
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(polling(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{condition.__name__} still false after {timeout} s") from None


# -- a join cancelled midway --------------------------------------------------------------


@server
@pytest.mark.parametrize("where", JOIN_AWAITS)
async def test_a_subscribe_cancelled_midway_leaves_nothing_registered(redis_server, wire, where):
    """Defect: a handler cancelled while ``subscribe`` awaited stayed in the fanout for good
    (counted, delivered to, its pub/sub channel or stream cursor kept)."""
    scheme, command, after, replies = JOIN_AWAITS[where]
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    async with Broadcast(url_of(wire, scheme), keep=None if scheme == "redis" else 5) as broadcast:
        gate = wire.hold(command, after=after, replies=replies)
        entered = False

        async def handler():
            nonlocal entered
            async with broadcast.subscribe("room", history=1 if scheme != "redis" else 0):
                entered = True

        task = asyncio.create_task(handler())
        await asyncio.wait_for(gate.reached.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not entered
        assert broadcast.subscribers("room") == 0
        gate.open()
        async with broadcast.subscribe("room") as again:  # and the channel still works
            await broadcast.publish("room", "after")
            assert await take(again, 1) == ["after"]
            await broadcast.publish("room", "next")
            assert await take(again, 1) == ["next"]  # once: no stale cursor repeats it
        assert broadcast.subscribers("room") == 0

        async def redis_forgot_the_channel() -> bool:
            return await channels_subscribed(raw) == []

        await until(redis_forgot_the_channel)  # pub/sub: UNSUBSCRIBEd; streams: never SUBSCRIBE
    await raw.aclose()


# -- a join overtaken by aclose -----------------------------------------------------------


@server
@pytest.mark.parametrize("where", JOIN_AWAITS)
async def test_a_subscribe_overtaken_by_aclose_is_refused_and_leaves_nothing_open(
    redis_server, wire, where
):
    """Defect: a subscribe under way when the broadcast closed either returned a subscription
    that never ended (streams) or started a reader and a connection after the close
    (pub/sub), or failed as "broker unreachable" after waiting for a confirmation."""
    scheme, command, after, replies = JOIN_AWAITS[where]
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        broadcast = Broadcast(url_of(wire, scheme), keep=None if scheme == "redis" else 5)
        gate = wire.hold(command, after=after, replies=replies)

        async def handler():
            async with broadcast.subscribe("room", history=1 if scheme != "redis" else 0):
                return "entered"

        task = asyncio.create_task(handler())
        await asyncio.wait_for(gate.reached.wait(), 5)
        closing = asyncio.create_task(broadcast.aclose())
        await asyncio.sleep(0)  # aclose starts while the join is held
        gate.open()
        await asyncio.wait_for(closing, 10)
        with pytest.raises(BroadcastError, match=r"^Broadcast\('redis.*\) is closed$"):
            await asyncio.wait_for(task, 10)
        assert broadcast.subscribers("room") == 0
        assert tasks_left() - wire.tasks == set()

        async def nobody_else() -> bool:
            return await other_clients(raw) == 0

        await until(nobody_else)
    finally:
        await raw.aclose()


@server
@pytest.mark.parametrize(("scheme", "command"), [("redis", b"PUBLISH"), ("redis-stream", b"XADD")])
async def test_a_publish_under_way_when_the_broadcast_closes_leaves_no_connection_open(
    redis_server, wire, scheme, command
):
    """Defect: ``aclose`` closed the connections under a publish on its way, which redis-py
    then retried on a new connection that nobody closed."""
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        broadcast = Broadcast(url_of(wire, scheme))
        await broadcast.publish("room", "first")
        gate = wire.hold(command, after=1)  # the second one
        publishing = asyncio.create_task(broadcast.publish("room", "on its way"))
        await asyncio.wait_for(gate.reached.wait(), 5)
        closing = asyncio.create_task(broadcast.aclose())
        await asyncio.sleep(0)  # aclose starts while the publish is held
        gate.open()
        await asyncio.wait_for(asyncio.gather(publishing, closing), 5)
        assert tasks_left() - wire.tasks == set()

        async def nobody_else() -> bool:
            return await other_clients(raw) == 0

        await until(nobody_else)
    finally:
        await raw.aclose()


# -- messages shallot_ws did not publish --------------------------------------------------


@server
@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_message_shallot_ws_did_not_publish_is_skipped_and_the_reader_goes_on(
    redis_server, scheme, caplog
):
    """Defect: one foreign message (a ``redis-cli`` PUBLISH, another app's XADD) killed the
    process's only reader: every subscription went silent, and streams' aclose raised."""
    url = url_of(redis_server, scheme)
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        async with Broadcast(url) as broadcast, broadcast.subscribe("room") as room:
            if scheme == "redis":
                await raw.publish("room", "hello from redis-cli")
            else:
                await raw.xadd("room", {"text": "hello from another app"})
                await raw.xadd("room", {"m": b"?not a tag"})
            await broadcast.publish("room", "mine")
            assert await take(room, 1) == ["mine"]
        skipped = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        expected = f"broadcast skipped a message on 'room' at {url} that shallot_ws did not publish"
        assert len(skipped) == 1 and skipped[0].startswith(expected)  # once a channel
        assert skipped[0].endswith("later ones on this channel are skipped without a warning")
    finally:
        await raw.aclose()


@server
async def test_history_skips_entries_shallot_ws_did_not_write(redis_server):
    """Defect: a foreign entry in a stream's history made ``subscribe`` raise ``KeyError``."""
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        async with Broadcast(url_of(redis_server, "redis-stream"), keep=10) as broadcast:
            await broadcast.publish("log", 1)
            await raw.xadd("log", {"text": "another app"})
            await broadcast.publish("log", 2)
            async with broadcast.subscribe("log", history=3) as late:
                assert late.history == [1, 2]
    finally:
        await raw.aclose()


# -- pub/sub: a confirmation that never comes, a connection that dies silently ------------


@server
async def test_a_subscribe_redis_never_confirms_is_a_clear_error_and_aclose_returns(wire):
    """Defects: the error ended in "is unreachable ()": a timeout's empty text; and (issue
    12) ``aclose`` after it could wait for ever, the reader's cancellation lost in redis-py's
    ``get_message``: ``aclose`` now waits for its tasks with a bound, then disconnects the
    connection under them, and the reader stops once the broadcast is closed."""
    broadcast = Broadcast(wire.url, confirm_timeout=0.2)
    wire.hold(b"SUBSCRIBE", replies=True)  # Redis subscribes; its replies never come
    with pytest.raises(BroadcastError) as info:
        async with broadcast.subscribe("room"):
            pass
    assert str(info.value) == (
        f"subscribe to 'room': the broker at {wire.url} is unreachable "
        "(no confirmation of SUBSCRIBE within 0.2 s)"
    )
    assert broadcast.subscribers("room") == 0
    await asyncio.wait_for(broadcast.aclose(), 5)
    assert tasks_left() - wire.tasks == set()


@server
async def test_a_subscribe_to_a_broker_that_never_answers_fails_in_time_and_aclose_returns(
    redis_server,
):
    """Defect: a broker that accepts connections and answers nothing (stopped: its kernel
    still accepts) held ``subscribe`` in the connection's handshake, out of reach of the
    confirmation timeout (5 s on redis-py 8, for ever on earlier ones), and ``aclose``
    behind it. ``confirm_timeout`` now bounds the whole join, connecting included."""
    broadcast = Broadcast(redis_server.url, confirm_timeout=0.2)
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(BroadcastError) as info:
            await asyncio.wait_for(broadcast.subscribe("room").__aenter__(), 5)
        assert str(info.value) == (
            f"subscribe to 'room': the broker at {redis_server.url} is unreachable "
            "(no confirmation of SUBSCRIBE within 0.2 s)"
        )
        assert broadcast.subscribers("room") == 0
        await asyncio.wait_for(broadcast.aclose(), 5)
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    assert tasks_left() == set()


@server
async def test_pub_sub_recovers_from_a_listening_connection_that_died_silently(redis_server):
    """Defect: the pub/sub reader blocked on its read forever when the connection died
    without a FIN or RST (a load balancer's idle timeout, a partition): no message ever
    reached the process again. It now pings after a silence and reconnects when unanswered."""
    proxy = Wire(redis_server.port)
    proxy_url = await proxy.start()
    try:
        async with (
            Broadcast(redis_server.url) as publisher,
            Broadcast(proxy_url, heartbeat=0.2) as listener,
            listener.subscribe("news") as news,
        ):
            await publisher.publish("news", "before")
            assert await take(news, 1) == ["before"]
            proxy.cut()
            received: list = []

            async def until_after_arrives():
                while "after" not in received:
                    await publisher.publish("news", "after")
                    with contextlib.suppress(asyncio.TimeoutError):
                        received.extend(await take(news, 1, timeout=0.2))

            await asyncio.wait_for(until_after_arrives(), 10)
            assert set(received) == {"after"}
    finally:
        await proxy.aclose()


async def pings(wire: Wire, more: int) -> None:
    """Wait until ``more`` PINGs more than now have reached the wire. A pub/sub reader pings
    only once its previous PING was answered (or it reconnects): each PING after the first
    one is an answered heartbeat."""
    await asyncio.wait_for(wire.seen(b"PING", wire.counts.get(b"PING", 0) + more).wait(), 5)


@server
async def test_pub_sub_idles_without_reconnecting(redis_server, wire, caplog):
    """The heartbeat is answered on a healthy idle connection, subscribed to channels or to
    none any more: no reconnection, no warning."""
    async with Broadcast(wire.url, heartbeat=0.05) as broadcast:
        async with broadcast.subscribe("news") as news:
            await broadcast.publish("news", "first")  # the publishing connection opens
            assert await take(news, 1) == ["first"]
            connections = wire.connections  # the listening one and the publishing one
            await pings(wire, 10)
            await broadcast.publish("news", "still here")
            assert await take(news, 1) == ["still here"]
        raw = redis.asyncio.Redis.from_url(redis_server.url)

        async def no_channel_left() -> bool:
            return await channels_subscribed(raw) == []

        await until(no_channel_left)  # UNSUBSCRIBEd
        await raw.aclose()
        await pings(wire, 10)  # subscribed to nothing
        async with broadcast.subscribe("news") as news:
            await broadcast.publish("news", "back")
            assert await take(news, 1) == ["back"]
        assert wire.connections == connections
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@server
async def test_pub_sub_unsubscribe_under_way_then_a_new_subscribe_gets_every_message(wire):
    """The last subscriber leaves, and while its UNSUBSCRIBE is on its way another joins:
    the new one is confirmed after it (by its own reply) and gets what is published next."""
    async with Broadcast(wire.url) as broadcast:
        async with broadcast.subscribe("room"):
            gate = wire.hold(b"UNSUBSCRIBE", replies=True)
        await asyncio.wait_for(gate.reached.wait(), 5)
        joining = broadcast.subscribe("room")
        entering = asyncio.create_task(joining.__aenter__())
        await asyncio.wait_for(wire.seen(b"SUBSCRIBE", 2).wait(), 5)
        assert not entering.done()  # its confirmation is behind the held replies
        gate.open()
        room = await asyncio.wait_for(entering, 5)
        await broadcast.publish("room", "after")
        assert await take(room, 1) == ["after"]
        await joining.__aexit__(None, None, None)


@server
async def test_streams_rejoined_while_a_read_is_in_flight_get_no_repeat(redis_server):
    """The last subscriber leaves, a message is published (the reader's XREAD, still on the
    old position, returns it), and the channel is joined again at once: the new subscriber
    starts after that message, and gets the next ones exactly once."""
    url = url_of(redis_server, "redis-stream")
    async with Broadcast(url) as publisher, Broadcast(url) as listener:
        async with listener.subscribe("room") as first:
            await publisher.publish("room", 1)
            assert await take(first, 1) == [1]
        await publisher.publish("room", 2)
        async with listener.subscribe("room") as again:
            await publisher.publish("room", 3)
            assert await take(again, 1) == [3]
            await publisher.publish("room", 4)
            assert await take(again, 1) == [4]
            await publisher.publish("room", 5)
            assert await take(again, 1) == [5]  # nothing repeated before it


@server
@pytest.mark.parametrize("scheme", SCHEMES)
async def test_closing_while_reconnecting_is_prompt_and_leaves_no_task(
    redis_server, scheme, caplog
):
    """``aclose`` while the reader waits out its backoff, the broker down."""
    broadcast = Broadcast(url_of(redis_server, scheme))
    async with broadcast.subscribe("room") as room:
        redis_server.kill()

        async def backing_off() -> bool:
            return any("is lost" in r.getMessage() for r in caplog.records)

        await until(backing_off)
        started = time.monotonic()
        await asyncio.wait_for(broadcast.aclose(), 5)
        assert time.monotonic() - started < 2.5
        assert room.ended_by == "broadcast closed"
    assert tasks_left() == set()


@server
@pytest.mark.parametrize("scheme", SCHEMES)
async def test_closing_while_the_broker_is_frozen_takes_bounded_time(redis_server, scheme):
    """Defect (streams): the wake stream's DELETE at ``aclose`` waited for redis-py's socket
    timeout (5 s) on a broker that accepts but never answers, after the 2 s already spent."""
    broadcast = Broadcast(url_of(redis_server, scheme))
    async with broadcast.subscribe("room"):
        redis_server.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            await asyncio.wait_for(broadcast.aclose(), 10)
            assert time.monotonic() - started < 4.0
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
    assert tasks_left() == set()


# -- one broadcast, two event loops -------------------------------------------------------


@server
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_redis_broadcast_used_from_a_second_event_loop_fails_clearly(redis_server, scheme):
    """Defect: a module-level broadcast reused by a second test (pytest gives each its own
    loop) waited 5 s then said "broker unreachable ()" (pub/sub), or raised "Event loop is
    closed" (streams): its connections and reader belong to the first loop."""
    broadcast = Broadcast(url_of(redis_server, scheme))

    async def first_test(broadcast):
        async with broadcast.subscribe("room") as room:
            await broadcast.publish("room", "hi")
            return await take(room, 1)

    async def second_test(broadcast):
        shown = rf"^Broadcast\('{scheme}://{HOST}:{redis_server.port}/0', keep=\d+\) "
        expected = (
            shown + "is used from another event loop than the one it first ran in; create a "
            r"Broadcast in the event loop that uses it \(at startup, in a fixture\)$"
        )
        with pytest.raises(BroadcastError, match=expected):
            await asyncio.wait_for(broadcast.publish("room", "hi"), 3)
        with pytest.raises(BroadcastError, match=expected):
            async with broadcast.subscribe("room"):
                pass
        with pytest.raises(BroadcastError, match=expected):
            await broadcast.aclose()

    assert asyncio.run(first_test(broadcast)) == ["hi"]
    asyncio.run(second_test(broadcast))
    del broadcast
    gc.collect()  # the first loop's connections go now, not in a later test


def test_a_memory_broadcast_works_from_any_event_loop():
    """A ``memory://`` broadcast holds nothing of a loop: two loops may use it in turn."""
    broadcast = Broadcast(keep=1)

    async def use(message: str) -> list:
        async with broadcast.subscribe("room", history=1) as room:
            await broadcast.publish("room", message)
            return [room.history, await anext(room)]

    assert asyncio.run(use("one")) == [[], "one"]
    assert asyncio.run(use("two")) == [["one"], "two"]


# -- passwords in URLs --------------------------------------------------------------------


def test_a_bad_url_is_refused_without_showing_its_password():
    """Defect: a mistyped scheme showed the whole URL, password included."""
    with pytest.raises(ConfigError) as info:
        Broadcast("reddis://ada:hunter2@127.0.0.1:6379/0")
    assert str(info.value).endswith("got 'reddis://ada:***@127.0.0.1:6379/0'")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@host", "redis://:***@host"),  # a password alone
        ("redis://ada:pw@host:1/0", "redis://ada:***@host:1/0"),
        ("redis://ada:p@ss@host/0", "redis://ada:***@host/0"),  # an unquoted @ in it
        ("redis://ada@host", "redis://ada@host"),  # a user name alone, as redis-py reads it
        ("redis://host:1/0?password=pw", "redis://host:1/0?password=***"),  # redis-py uses it
        ("redis://host/0?db=1&password=pw&x=1", "redis://host/0?db=1&password=***&x=1"),
        ("redis://host:6379/0", "redis://host:6379/0"),
    ],
)
def test_redacted_hides_every_password_redis_py_would_use(url, shown):
    assert redacted(url) == shown


async def test_an_unreachable_broker_named_with_a_query_password_does_not_show_it():
    """Defect: redis-py takes ``?password=`` from the URL, and errors showed it."""
    async with Broadcast("redis://127.0.0.1:1/0?password=hunter2") as broadcast:
        with pytest.raises(BroadcastError) as info:
            await broadcast.publish("room", "hi")
    assert "hunter2" not in str(info.value)
    assert "redis://127.0.0.1:1/0?password=***" in str(info.value)


# -- what a broker carries ----------------------------------------------------------------


@pytest.mark.parametrize("message", ["lone \ud800 surrogate", {"text": "\udfff"}, "plain é"])
def test_any_str_crosses_a_broker_intact(message):
    """Defect: a str with a lone surrogate (``json.loads('"\\\\ud800"')`` makes one) raised
    a bare ``UnicodeEncodeError`` from publish, though the same text inside a dict passed."""
    assert decode(encode(message)) == message


async def test_a_dict_with_keys_json_would_change_is_refused():
    """Defect: ``{1: "a"}`` reached subscribers as ``{"1": "a"}``, not the equal copy the
    docs promise, and ``memory://`` delivered it unchanged."""
    broadcast = Broadcast("redis://127.0.0.1:1/0")  # refused before any connection
    for message, kind, key in (([{1: "a"}], "list", "int"), ({"a": {None: 1}}, "dict", "NoneType")):
        with pytest.raises(InvalidMessageType) as info:
            await broadcast.publish("room", message)
        assert str(info.value) == (
            "publish expected a str, bytes or JSON-serializable message for a broker, "
            f"got {kind} (dict keys must be str, got {key})"
        )
    await broadcast.aclose()


@pytest.mark.parametrize("url", ["memory://", "redis://127.0.0.1:1/0"])
async def test_publish_names_a_bad_channel_as_subscribe_does(url):
    """Defect: ``publish(None, ...)`` raised redis-py's ``DataError``, and ``memory://``
    took any hashable, so ``publish(1, ...)`` never reached subscribers of ``"1"``."""
    async with Broadcast(url) as broadcast:
        for channel in (None, 1, ""):
            with pytest.raises(ConfigError if channel == "" else ConfigTypeError) as info:
                await broadcast.publish(channel, "hi")  # type: ignore[arg-type]
            assert str(info.value) == f"publish expected a non-empty str channel, got {channel!r}"


def futures() -> int:
    gc.collect()
    return sum(isinstance(thing, asyncio.Future) for thing in gc.get_objects())


async def test_failed_subscribes_leave_no_pending_confirmation():
    """Defect: each channel whose SUBSCRIBE failed kept a future for good (unbounded)."""
    async with Broadcast("redis://127.0.0.1:1/0") as broadcast:
        for number in range(3):  # what a first failure leaves for good (a reader, a lock)
            with pytest.raises(BroadcastError):
                async with broadcast.subscribe(f"warm:{number}"):
                    pass
        before = futures()
        for number in range(20):
            with pytest.raises(BroadcastError):
                async with broadcast.subscribe(f"room:{number}"):
                    pass
        assert futures() - before < 5


@server
async def test_a_late_reply_to_an_abandoned_subscribe_does_not_confirm_the_next_one(wire):
    """A join cancelled before Redis confirmed its SUBSCRIBE, the channel left (UNSUBSCRIBE)
    and joined again: the reply to the first SUBSCRIBE must not confirm the second join,
    which would return before Redis subscribed it (and miss what is published then)."""
    async with Broadcast(wire.url) as broadcast, broadcast.subscribe("warm") as warm:
        late_replies = wire.hold(b"SUBSCRIBE", after=1, replies=True)  # the first join's
        first = asyncio.create_task(broadcast.subscribe("room").__aenter__())
        await asyncio.wait_for(late_replies.reached.wait(), 5)
        first.cancel()  # before its reply is read: it leaves, an UNSUBSCRIBE follows
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.wait_for(wire.seen(b"UNSUBSCRIBE").wait(), 5)
        unconfirmed = wire.hold(b"SUBSCRIBE", after=2)  # the second join's: Redis waits
        joining = broadcast.subscribe("room")
        second = asyncio.create_task(joining.__aenter__())
        await asyncio.wait_for(unconfirmed.reached.wait(), 5)
        late_replies.open()  # the first SUBSCRIBE's reply, then the UNSUBSCRIBE's, arrive
        await broadcast.publish("warm", "read")  # its message comes after those replies
        assert await take(warm, 1) == ["read"]  # so the reader has handled them
        assert not second.done()  # not confirmed by a reply to another SUBSCRIBE
        unconfirmed.open()
        subscription = await asyncio.wait_for(second, 5)
        await broadcast.publish("room", "heard")
        assert await take(subscription, 1) == ["heard"]
        await joining.__aexit__(None, None, None)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_url_redis_py_cannot_parse_is_refused_without_showing_its_password(scheme):
    with pytest.raises(ConfigError) as refused:
        Broadcast(f"{scheme}://ada:se/cret:x@127.0.0.1:6379/0")
    assert "cret" not in str(refused.value)
    assert str(refused.value).startswith("Broadcast expected a Redis URL like redis://")
    assert str(refused.value).endswith("got 'redis://ada:***@127.0.0.1:6379/0'")
