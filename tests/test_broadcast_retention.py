"""Issue 12, point 7: what a broadcast keeps is bounded: ``memory://`` by count and by age (a
channel nobody uses again is forgotten), ``redis-stream://`` by count, exactly."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from shallot_ws.broadcast import Broadcast
from shallot_ws.errors import ConfigError
from shallot_ws.testing import virtual_time


async def test_memory_keeps_at_most_keep_messages_a_channel():
    async with Broadcast("memory://", keep=3) as broadcast:
        for number in range(10):
            await broadcast.publish("room", number)
        async with broadcast.subscribe("room", history=3) as late:
            assert late.history == [7, 8, 9]


async def test_memory_forgets_messages_older_than_keep_for_and_then_the_channel():
    async with virtual_time() as clock, Broadcast("memory://", keep=5, keep_for=60) as broadcast:
        await broadcast.publish("old", "a")
        await clock.advance(30)
        await broadcast.publish("old", "b")
        await broadcast.publish("other", "x")
        assert broadcast.kept_channels == 2
        await clock.advance(40)  # t=70: "a" is 70 s old, "b" 40 s
        async with broadcast.subscribe("old", history=5) as late:
            assert late.history == ["b"]
        await clock.advance(30)  # t=100: all of "old" and "other" outlived keep_for
        await broadcast.publish("new", "y")  # each publish forgets the expired channels
        assert broadcast.kept_channels == 1
        async with broadcast.subscribe("old", history=5) as late:
            assert late.history == []


async def test_many_short_lived_channels_do_not_accumulate():
    async with virtual_time() as clock, Broadcast("memory://", keep=10, keep_for=1) as broadcast:
        for number in range(10_000):
            await broadcast.publish(f"session:{number}", "hello")
            if number % 100 == 99:
                await clock.advance(0.5)
        assert broadcast.kept_channels <= 300  # the last second's channels, not 10,000


def test_keep_for_is_checked_and_is_memorys_alone():
    with pytest.raises(ConfigError, match="^Broadcast keep_for expected a positive number"):
        Broadcast("memory://", keep_for=0)
    with pytest.raises(ConfigError, match="^Broadcast expected a memory:// URL with keep_for"):
        Broadcast("redis-stream://127.0.0.1:6379/0", keep_for=10)
    assert Broadcast("redis://127.0.0.1:6379/0").kept_channels is None


@pytest.mark.server
async def test_redis_streams_trim_to_exactly_keep(redis_server):
    url = redis_server.url.replace("redis", "redis-stream", 1)
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        async with Broadcast(url, keep=10) as broadcast:
            for number in range(250):
                await broadcast.publish("trimmed", number)
            assert await raw.xlen("trimmed") == 10
            async with broadcast.subscribe("trimmed", history=10) as late:
                assert late.history == list(range(240, 250))
    finally:
        await raw.aclose()


async def test_the_age_bound_applies_on_the_loops_clock():
    loop = asyncio.get_running_loop()
    async with Broadcast("memory://", keep=1, keep_for=3600) as broadcast:
        await broadcast.publish("room", loop.time())
        async with broadcast.subscribe("room", history=1) as late:
            assert len(late.history) == 1  # well within the hour
