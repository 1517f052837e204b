"""Issue 12, point 7: a task cancelled while it joins a channel is cancelled, and nothing of
its subscription stays registered (``redis://`` and ``redis-stream://``, already connected)."""

from __future__ import annotations

import asyncio

import pytest

from shallot_ws.broadcast import Broadcast
from tests.test_broadcast_redis import SCHEMES, url_of

pytestmark = pytest.mark.server


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_cancellation_while_joining_is_never_swallowed(redis_server, scheme):
    async with Broadcast(url_of(redis_server, scheme)) as broadcast:
        async with broadcast.subscribe("warm"):  # connected: the join below is quick
            pass
        entered_after_cancel = []
        for turns in range(12):  # cancel after 0, 1, 2, ... loop turns of the join
            channel = f"room{turns}"
            cancelled = False

            async def join(channel=channel):
                async with broadcast.subscribe(channel):
                    if cancelled:
                        entered_after_cancel.append(channel)
                    await asyncio.Event().wait()

            task = asyncio.create_task(join())
            for _ in range(turns):
                await asyncio.sleep(0)
            task.cancel()
            cancelled = True
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
            assert broadcast.subscribers(channel) == 0, (turns, channel)
        assert entered_after_cancel == []


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_cancellation_while_publishing_is_never_swallowed(redis_server, scheme):
    async with Broadcast(url_of(redis_server, scheme)) as broadcast:
        await broadcast.publish("warm", 0)  # connected
        for turns in range(12):
            went_on = []

            async def publish():
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
