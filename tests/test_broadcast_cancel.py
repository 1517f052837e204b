"""Issue 12, point 7: a task cancelled while it joins or publishes is cancelled, and nothing of
its subscription stays registered; a reader that fails is never silent (``redis://`` and
``redis-stream://``, on a real Redis)."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio

from shallot_ws.broadcast import Broadcast
from tests.test_broadcast_redis import SCHEMES, take, url_of

pytestmark = pytest.mark.server


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_cancellation_while_joining_is_never_swallowed(redis_server, scheme):
    async with Broadcast(url_of(redis_server, scheme)) as broadcast:
        async with broadcast.subscribe("warm"):  # connected: the join below is quick
            pass
        entered_after_cancel = []
        for turns in range(12):  # cancel after 0, 1, 2, ... loop turns of the join
            channel = f"room{turns}"
            cancelled = asyncio.Event()

            async def join(channel=channel, cancelled=cancelled):
                async with broadcast.subscribe(channel):
                    if cancelled.is_set():
                        entered_after_cancel.append(channel)
                    await asyncio.Event().wait()

            task = asyncio.create_task(join())
            for _ in range(turns):
                await asyncio.sleep(0)
            task.cancel()
            cancelled.set()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
            assert broadcast.subscribers(channel) == 0, (turns, channel)
        assert entered_after_cancel == []


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_cancellation_while_publishing_is_never_swallowed(redis_server, scheme):
    async with Broadcast(url_of(redis_server, scheme)) as broadcast:
        await broadcast.publish("warm", 0)  # connected
        for turns in range(12):
            went_on: list[int] = []

            async def publish(turns=turns, went_on=went_on):
                await broadcast.publish("news", turns)
                went_on.append(turns)  # must not run once cancelled

            task = asyncio.create_task(publish())
            for _ in range(turns):
                await asyncio.sleep(0)
            done = task.done()
            task.cancel()
            if done:
                continue  # it finished before the cancel: nothing to swallow
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
            assert went_on == [], turns


# -- a reader that dies on an error that is not the broker's ------------------------------


@pytest.mark.parametrize(
    ("scheme", "method"),
    [("redis", (redis.asyncio.client.PubSub, "get_message")), ("redis-stream", None)],
)
async def test_a_reader_that_fails_is_logged_once_and_ends_its_subscriptions(
    redis_server, scheme, method, monkeypatch, caplog
):
    # redis-py's own read raising something that is not a connection error (a bug, a
    # parser's surprise): patched at the library's public method, once.
    cls, name = method or (redis.asyncio.Redis, "xread")
    original = getattr(cls, name)
    armed = asyncio.Event()
    failed = []

    async def failing(self, *args, **kwargs):
        if armed.is_set() and not failed:
            failed.append(True)
            raise RuntimeError("parser surprise")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, failing)
    async with Broadcast(url_of(redis_server, scheme)) as broadcast:
        async with broadcast.subscribe("news") as news:
            armed.set()
            await broadcast.publish("news", "wake the reader")  # its next read fails

            async def rest():
                return [message async for message in news]

            received = await asyncio.wait_for(rest(), 5)  # ends instead of hanging
            assert news.ended_by == "the broadcast's reader failed (RuntimeError: parser surprise)"
            assert received in ([], ["wake the reader"])
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "reader failed" in errors[0].getMessage()
        async with broadcast.subscribe("news") as again:  # a new reader serves it
            await broadcast.publish("news", "back")
            assert await take(again, 1) == ["back"]
