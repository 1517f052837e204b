"""The in-process broadcast: every subscriber gets every message, within its bound and policy."""

from __future__ import annotations

import asyncio
import json

import pytest

from shallot_ws import ConfigError, ConfigTypeError, websocket, ws_close, ws_send
from shallot_ws.broadcast import Broadcast
from shallot_ws.errors import BroadcastError
from shallot_ws.merge import merge
from shallot_ws.testing import AppClosed, connect


async def drain(subscription):
    """The messages buffered now."""
    taken = []
    while subscription._messages:
        taken.append(await subscription.__anext__())
    return taken


async def test_every_subscriber_of_a_channel_gets_every_message_in_order():
    broadcast = Broadcast()
    async with (
        broadcast.subscribe("a") as one,
        broadcast.subscribe("a") as two,
        broadcast.subscribe("b") as other,
    ):
        assert broadcast.subscribers("a") == 2
        await broadcast.publish("a", 1)
        await broadcast.publish("a", {"x": 2})
        await broadcast.publish("nobody", 3)
        assert await drain(one) == [1, {"x": 2}] and await drain(two) == [1, {"x": 2}]
        assert await drain(other) == []
    assert broadcast.subscribers("a") == 0


@pytest.mark.parametrize(
    ("policy", "kept", "dropped", "overflowed"),
    [
        ("drop_oldest", [3, 4, 5], 2, False),
        ("drop_newest", [1, 2, 3], 2, False),
        ("end", [], 1, True),
    ],
)
async def test_a_full_buffer_applies_the_declared_policy_and_counts(
    policy, kept, dropped, overflowed
):
    broadcast = Broadcast()
    async with broadcast.subscribe("c", buffer=3, policy=policy) as slow:
        for number in range(1, 6):
            await broadcast.publish("c", number)
        slow.end()  # no more publishing: iterate what is left
        assert [item async for item in slow] == kept
        assert (slow.dropped, slow.overflowed) == (dropped, overflowed)


async def test_a_slow_subscriber_never_delays_the_others():
    broadcast = Broadcast()
    got: list[int] = []
    async with broadcast.subscribe("d", buffer=1) as slow, broadcast.subscribe("d") as fast:

        async def consume():
            async for item in fast:
                got.append(item)
                if item == 99:
                    return

        consumer = asyncio.create_task(consume())
        for number in range(100):
            await broadcast.publish("d", number)  # never waits, slow or not
        await asyncio.wait_for(consumer, 1)
        assert got == list(range(100))
        assert slow.dropped == 99


async def test_a_room_over_merge_and_broadcast_closes_a_too_slow_client_with_1013(
    no_leaked_tasks,
):
    broadcast = Broadcast()

    @websocket
    async def room(scope, receiver):
        async with (
            broadcast.subscribe("room", buffer=2, policy="end") as feed,
            merge(receiver, feed=feed) as events,
        ):
            async for source, item in events:
                if source == "client":
                    await broadcast.publish("room", item)
                else:
                    yield ws_send(json.dumps(item))
            if feed.overflowed:
                yield ws_close(1013, "too slow")

    async with connect(room) as ann, connect(room) as bob:
        await ann.send("hi")
        assert await ann.receive() == '"hi"' and await bob.receive() == '"hi"'
        for _ in range(10):  # bob does not read: his subscription overflows
            await broadcast.publish("room", "spam")  # overflowed at the third, synchronously
        with pytest.raises(AppClosed) as info:
            while True:
                await bob.receive()
        assert (info.value.code, info.value.reason) == (1013, "too slow")
    assert broadcast.subscribers("room") == 0
    no_leaked_tasks()


def test_bad_arguments_are_named():
    broadcast = Broadcast()
    with pytest.raises(
        ConfigError,
        match="^Broadcast expected a URL starting with "
        "'memory://', 'redis://', 'rediss://', 'redis-stream://', "
        "'rediss-stream://', got 'kafka://x'$",
    ):
        Broadcast("kafka://x")
    with pytest.raises(ConfigError, match="^Broadcast expected keep to be an int >= 0, got -1$"):
        Broadcast(keep=-1)
    with pytest.raises(
        ConfigTypeError, match="^Broadcast expected keep to be an int >= 0, got 1.0$"
    ):
        Broadcast(keep=1.0)  # type: ignore[arg-type]
    with pytest.raises(
        ConfigTypeError,
        match="^Broadcast expected a URL starting with 'memory://', .*, got None$",
    ):
        Broadcast(None)  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError,
        match=r"^subscribe asked for history=2, but this "
        r"broadcast keeps 0 messages a channel: Broadcast\('memory://', keep=...\)$",
    ):
        broadcast.subscribe("x", history=2)
    with pytest.raises(ConfigError, match="^subscribe expected history to be an int >= 0, got -1$"):
        Broadcast(keep=10).subscribe("x", history=-1)
    with pytest.raises(
        ConfigError,
        match="^subscribe expected a policy in drop_oldest, drop_newest, end, got 'block'$",
    ):
        broadcast.subscribe("x", policy="block")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="^subscribe expected a positive int buffer, got 0$"):
        broadcast.subscribe("x", buffer=0)
    with pytest.raises(
        ConfigTypeError, match="^subscribe expected a positive int buffer, got '1'$"
    ):
        broadcast.subscribe("x", buffer="1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="^subscribe expected a non-empty str channel, got ''$"):
        broadcast.subscribe("")
    with pytest.raises(
        ConfigTypeError, match="^subscribe expected a non-empty str channel, got 1$"
    ):
        broadcast.subscribe(1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        ({"heartbeat": 0}, ConfigError, "heartbeat expected a positive number of seconds, got 0"),
        (
            {"heartbeat": "5"},
            ConfigTypeError,
            "heartbeat expected a positive number of seconds, got '5'",
        ),
        (
            {"confirm_timeout": float("nan")},
            ConfigError,
            "confirm_timeout expected a positive number of seconds, got nan",
        ),
        (
            {"confirm_timeout": True},
            ConfigTypeError,
            "confirm_timeout expected a positive number of seconds, got True",
        ),
    ],
)
def test_the_redis_pub_sub_durations_are_positive_seconds(options, error, text):
    with pytest.raises(error) as refused:
        Broadcast("redis://127.0.0.1:1/0", **options)
    assert str(refused.value) == f"Broadcast {text}"


@pytest.mark.parametrize("url", ["memory://", "redis-stream://ada:pw@127.0.0.1:1/0"])
def test_the_redis_pub_sub_durations_are_refused_by_other_backends(url):
    with pytest.raises(ConfigError) as refused:
        Broadcast(url, heartbeat=1.0, confirm_timeout=2)
    shown = url.replace(":pw@", ":***@")
    assert str(refused.value) == (
        "Broadcast expected a redis:// or rediss:// URL with heartbeat and confirm_timeout "
        f"(options of Redis pub/sub), got {shown!r}"
    )
    with pytest.raises(ConfigError, match=r"^Broadcast expected .* URL with heartbeat \("):
        Broadcast(url, heartbeat=1.0)


async def test_history_gives_a_joiner_the_last_messages_kept_then_the_live_ones():
    broadcast = Broadcast(keep=3)
    for number in range(5):
        await broadcast.publish("room", number)
    async with (
        broadcast.subscribe("room", history=2, buffer=1) as late,
        broadcast.subscribe("room", history=3) as all_kept,
        broadcast.subscribe("room") as none,
    ):
        await broadcast.publish("room", "live")
        assert late.history == [3, 4] and await drain(late) == ["live"]
        assert all_kept.history == [2, 3, 4] and await drain(all_kept) == ["live"]
        assert none.history == [] and await drain(none) == ["live"]
        assert late.dropped == 0  # history is not in the buffer: it may be longer
    async with broadcast.subscribe("empty", history=3) as empty:
        assert empty.history == []


async def test_a_closed_broadcast_ends_its_subscriptions_and_refuses_more():
    broadcast = Broadcast(keep=1)
    async with broadcast.subscribe("room") as subscription:
        await broadcast.publish("room", 1)
        await broadcast.aclose()
        assert [message async for message in subscription] == [1]
        assert subscription.ended_by == "broadcast closed"
    with pytest.raises(BroadcastError, match=r"^Broadcast\('memory://', keep=1\) is closed$"):
        await broadcast.publish("room", 2)
    with pytest.raises(BroadcastError, match="is closed"):
        async with broadcast.subscribe("room"):
            pass
    await broadcast.aclose()  # idempotent


async def test_an_overflowed_subscription_no_longer_counts_as_a_subscriber():
    broadcast = Broadcast()
    async with (
        broadcast.subscribe("room", buffer=1, policy="end") as strict,
        broadcast.subscribe("room") as patient,
    ):
        assert broadcast.subscribers("room") == 2
        await broadcast.publish("room", 1)
        await broadcast.publish("room", 2)
        assert strict.overflowed and broadcast.subscribers("room") == 1
        assert await drain(patient) == [1, 2]
    assert broadcast.subscribers("room") == 0


async def test_a_subscription_used_without_async_with_says_how_to_use_it():
    broadcast = Broadcast("memory://")
    subscribing = broadcast.subscribe("c")
    use = "use `async with broadcast.subscribe(...) as sub`: subscribe('c') was "
    with pytest.raises(TypeError) as info:
        async for _ in subscribing:  # type: ignore[attr-defined]
            pass
    assert str(info.value) == use + "iterated with `async for`"
    with pytest.raises(TypeError) as info:
        await subscribing  # type: ignore[misc]
    assert str(info.value) == use + "awaited"
    with pytest.raises(TypeError) as info, subscribing:  # type: ignore[attr-defined]
        pass
    assert str(info.value) == use + "used with a plain `with`"
    with pytest.raises(AttributeError) as info:
        subscribing.history  # type: ignore[attr-defined]  # noqa: B018
    assert str(info.value) == use + "asked for 'history'"
    assert broadcast.subscribers("c") == 0  # nothing was registered by the misuse
    async with subscribing as sub:
        await broadcast.publish("c", "m")
        assert await anext(aiter(sub)) == "m"
    await broadcast.aclose()


async def test_delivered_counts_every_offer_and_buffered_what_waits():
    broadcast = Broadcast()
    async with broadcast.subscribe("a", buffer=2, policy="drop_newest") as subscription:
        for number in range(3):
            await broadcast.publish("a", number)
        assert (subscription.delivered, subscription.buffered, subscription.dropped) == (3, 2, 1)
        assert subscription.take() == 0
        assert subscription.buffered == 1
    await broadcast.publish("a", "after leaving")
    assert subscription.delivered == 3  # an ended subscription is offered nothing more


async def test_the_observer_is_told_of_publishes_joins_and_leaves_in_order():
    told: list[tuple[str, str]] = []

    class Observer:
        def published(self, channel):
            told.append(("published", channel))

        def joined(self, subscription):
            told.append(("joined", subscription.channel))

        def left(self, subscription):
            told.append(("left", subscription.channel))

    broadcast = Broadcast()
    assert broadcast.observer is None
    broadcast.observer = Observer()
    async with broadcast.subscribe("a"):
        await broadcast.publish("a", 1)
        await broadcast.publish("b", 2)
    await broadcast.aclose()
    with pytest.raises(BroadcastError):
        await broadcast.publish("a", 3)  # refused: not told
    with pytest.raises(BroadcastError):
        async with broadcast.subscribe("a"):
            pass  # never joined: not told
    assert told == [("joined", "a"), ("published", "a"), ("published", "b"), ("left", "a")]
