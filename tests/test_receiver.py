"""The receiver: inline reads while the handler asks, a watcher only while it is elsewhere."""

from __future__ import annotations

import asyncio

from shallot_ws import websocket, ws_send
from shallot_ws.testing import connect


async def test_a_reading_handler_reads_inline_and_never_starts_a_watcher():
    task_counts: list[int] = []

    @websocket
    async def echo(scope, receiver):
        async for message in receiver:
            task_counts.append(len(asyncio.all_tasks()))
            yield ws_send(message)

    async with connect(echo) as ws:
        for index in range(50):
            await ws.send(str(index))
            assert await ws.receive() == str(index)
    assert set(task_counts) == {2}  # the test and the app: no watcher task, ever


async def test_while_the_handler_is_elsewhere_a_watcher_buffers_frames():
    seen: list[object] = []

    @websocket(max_buffered=5)
    async def busy(scope, receiver):
        yield ws_send("busy")
        await asyncio.sleep(0.05)  # elsewhere: the watcher reads for us
        seen.append(receiver.buffered)
        seen.append(receiver.disconnected)
        seen.append(repr(receiver))
        async for message in receiver:
            seen.append(message)
        seen.append(receiver.disconnected.code)

    async with connect(busy) as ws:
        assert await ws.receive() == "busy"
        await ws.send("a")
        await ws.send(b"b")
        await ws.send("c")
        await asyncio.sleep(0.1)
        await ws.close(4100)
    assert seen == [3, None, "<Receiver connected, 3 buffered>", "a", b"b", "c", 4100]


async def test_frames_and_disconnect_arriving_while_elsewhere_are_all_delivered():
    seen: list[object] = []

    @websocket(drain_timeout=1.0)
    async def late_reader(scope, receiver):
        yield ws_send("go")
        await asyncio.sleep(0.05)
        seen.append(repr(receiver))
        async for message in receiver:
            seen.append(message)

    async with connect(late_reader) as ws:
        assert await ws.receive() == "go"
        await ws.send("x")
        await ws.send("y")
        await ws.close(1001)
    assert seen == ["<Receiver gone (1001), 2 buffered>", "x", "y"]
