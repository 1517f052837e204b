"""The receiver: inline reads while the handler asks, a watcher only while it is elsewhere."""

from __future__ import annotations

import asyncio

import pytest

from shallot_ws import ConfigError, websocket, ws_send
from shallot_ws.testing import connect, virtual_time


async def test_a_reading_handler_reads_inline_and_never_starts_a_watcher(ws_client):
    task_counts: list[int] = []

    @websocket
    async def echo(scope, receiver):
        async for message in receiver:
            task_counts.append(len(asyncio.all_tasks()))
            yield ws_send(message)

    async with ws_client(echo) as ws:  # the project's own pytest plugin: checks leaks too
        for index in range(50):
            await ws.send(str(index))
            assert await ws.receive() == str(index)
    assert set(task_counts) == {2}  # the test and the app: no watcher task, ever


async def test_while_the_handler_is_elsewhere_a_watcher_buffers_frames():
    seen: list[object] = []
    looked = asyncio.Event()

    @websocket(max_buffered=5)
    async def busy(scope, receiver):
        yield ws_send("busy")
        await asyncio.sleep(0.05)  # elsewhere: the watcher reads for us
        seen.append(receiver.buffered)
        seen.append(receiver.disconnected)
        seen.append(repr(receiver))
        looked.set()
        async for message in receiver:
            seen.append(message)
        seen.append(receiver.disconnected.code)

    # On virtual time the handler's pause ends only once the loop has nothing else to do.
    async with virtual_time(), connect(busy) as ws:
        assert await ws.receive() == "busy"
        await ws.send("a")
        await ws.send(b"b")
        await ws.send("c")
        await looked.wait()
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

    async with virtual_time(), connect(late_reader) as ws:
        assert await ws.receive() == "go"
        await ws.send("x")
        await ws.send("y")
        await ws.close(1001)
    assert seen == ["<Receiver gone (1001), 2 buffered>", "x", "y"]


async def test_a_stream_whose_buffer_stays_full_still_sees_its_client_leave(caplog):
    stopped: list[str] = []
    dropped: list[int] = []

    @websocket(max_buffered=2, stall_timeout=0.05, drain_timeout=0.05)
    async def deaf(scope, receiver):
        try:
            while True:
                yield ws_send("tick")
                await asyncio.sleep(0.01)
        finally:
            dropped.append(receiver.dropped)
            stopped.append(repr(receiver))

    async with virtual_time(), connect(deaf, timeout=2, queue_size=2) as ws:
        for index in range(6):  # 2 buffered, 2 in the server's queue, then pushed back
            await ws.send(str(index))
        await ws.receive()
        await ws.close()
    assert stopped == ["<Receiver gone (1000), 2 buffered>"]
    assert dropped == [4]  # the frames that did not fit, dropped to reach the disconnect
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "took no frame for 0.05 s with 2 waiting" in warnings[0]


async def test_a_handler_that_reads_before_the_stall_time_loses_nothing():
    got: list[str] = []

    @websocket(max_buffered=2, stall_timeout=0.5)
    async def late(scope, receiver):
        await asyncio.sleep(0.1)  # full buffer, pushed back client: but reads in time
        async for message in receiver:
            got.append(message)
        yield ws_send(f"{len(got)} {receiver.dropped}")

    frames = [str(index) for index in range(30)]
    async with virtual_time(), connect(late, queue_size=2) as ws:
        for frame in frames:
            await ws.send(frame)
        await ws.close()
    assert got == frames


async def test_once_the_handler_asks_for_a_frame_backpressure_is_back_for_good():
    got: list[str] = []
    seen: list[int] = []
    asked = asyncio.Event()
    gate = asyncio.Event()

    @websocket(max_buffered=2, stall_timeout=0.05)
    async def pausing(scope, receiver):
        await asyncio.sleep(0.15)  # never asked yet: the stall drops frames 2..5
        seen.append(receiver.dropped)
        got.append(await receiver.receive())  # asks: from now on, nothing is dropped
        asked.set()
        await gate.wait()  # long past the stall time, with the client pushed back
        async for message in receiver:
            got.append(message)
        seen.append(receiver.dropped)
        yield ws_send("done")

    async with virtual_time() as clock, connect(pausing, queue_size=2) as ws:
        for index in range(6):
            await ws.send(str(index))
        await asked.wait()
        sender = asyncio.create_task(_send_range(ws, 6, 12))
        await clock.advance(0.3)  # six stall times
        assert not sender.done()  # pushed back, not dropped
        gate.set()
        await sender
        await ws.close()
    assert seen == [4, 4]
    assert got == ["0", "1", *[str(index) for index in range(6, 12)]]


async def _send_range(ws, start, stop):
    for index in range(start, stop):
        await ws.send(str(index))


async def test_a_slow_reader_loses_nothing_however_long_each_frame_takes():
    stored: list[str] = []
    receivers: list[object] = []

    @websocket(max_buffered=2, stall_timeout=0.02)
    async def slow(scope, receiver):
        receivers.append(receiver)
        async for message in receiver:
            await asyncio.sleep(0.05)  # longer than the stall time, per frame
            stored.append(message)
            yield ws_send("ack")

    async with virtual_time(), connect(slow, timeout=3) as ws:
        for index in range(8):
            await ws.send(str(index))
        await ws.close()
    assert stored == [str(index) for index in range(8)]
    assert receivers[0].dropped == 0


def test_stall_timeout_is_checked():
    async def handler(scope, receiver):
        yield ws_send("x")

    with pytest.raises(ConfigError, match="^stall_timeout expected a positive number"):
        websocket(stall_timeout=0)(handler)
    assert websocket(stall_timeout=None)(handler).stall_timeout is None
    assert websocket(handler).stall_timeout is None  # off by default: nothing is dropped
