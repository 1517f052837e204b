"""The in-process broadcast: every subscriber gets every message, within its bound and policy."""

from __future__ import annotations

import asyncio
import json

import pytest

from shallot_ws import InvalidHandler, websocket, ws_close, ws_send
from shallot_ws.broadcast import Broadcast
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
    async with broadcast.subscribe("a") as one, broadcast.subscribe("a") as two, \
            broadcast.subscribe("b") as other:
        assert await broadcast.publish("a", 1) == 2
        assert await broadcast.publish("a", {"x": 2}) == 2
        assert await broadcast.publish("nobody", 3) == 0
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
        async with broadcast.subscribe("room", buffer=2, policy="end") as feed, merge(
            receiver, feed=feed
        ) as events:
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
            await broadcast.publish("room", "spam")
        await asyncio.sleep(0.05)
        with pytest.raises(AppClosed) as info:
            while True:
                await bob.receive()
        assert (info.value.code, info.value.reason) == (1013, "too slow")
    assert broadcast.subscribers("room") == 0
    no_leaked_tasks()


def test_bad_arguments_are_named():
    broadcast = Broadcast()
    with pytest.raises(InvalidHandler, match="^Broadcast expected a backend URL starting with "
                       "'memory://', got 'kafka://x'$"):
        Broadcast("kafka://x")
    with pytest.raises(InvalidHandler, match="^subscribe expected a policy in drop_oldest, "
                       "drop_newest, end, got 'block'$"):
        broadcast.subscribe("x", policy="block")  # type: ignore[arg-type]
    with pytest.raises(InvalidHandler, match="^subscribe expected a positive int buffer"):
        broadcast.subscribe("x", buffer=0)
    with pytest.raises(InvalidHandler, match="^subscribe expected a non-empty str channel"):
        broadcast.subscribe("")
