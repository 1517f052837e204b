"""wrap_idle_timeout: a silent client is closed, wherever the handler waits; other
cancellations (the driver's drain, a server shutdown) are never swallowed."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import time

import pytest

from shallot_ws import ConfigError, ConfigTypeError, InvalidMessage, compose, websocket, ws_send
from shallot_ws.middlewares import IdleClock, wrap_idle_timeout, wrap_json
from shallot_ws.testing import AppClosed, connect, virtual_time
from tests.serving import server_fixture

IDLE = 30.0  # virtual seconds: the in-memory tests run on the virtual clock
WAIT = 10 * IDLE  # the test client's bound on each wait
serve = server_fixture()


@pytest.fixture
async def clock():
    """The test runs on virtual time from its first line: idle times are exact."""
    async with virtual_time() as clock:
        yield clock


# -- IdleClock, without an event loop ------------------------------------------------------


def test_idle_clock_counts_from_the_last_frame_taken():
    clock = IdleClock(1.0, now=10.0)
    assert clock.remaining(10.25) == 0.75
    clock.heard(10.5)
    assert clock.remaining(11.0) == 0.5
    assert clock.remaining(11.5) == 0.0  # idle from here
    assert clock.taken == 1


def test_a_frame_waiting_unread_counts_from_when_it_arrived():
    clock = IdleClock(30.0, now=0.0)
    assert clock.remaining(30.0, arrived=20.0) == 20.0  # heard at 20, not at this look
    assert clock.remaining(50.0, arrived=20.0) == 0.0  # the same frame: idle at 50
    assert clock.remaining(50.0) == 0.0
    clock.heard(55.0)  # taken: the take counts too
    assert clock.remaining(60.0, arrived=52.0) == 25.0  # an older arrival changes nothing
    assert clock.remaining(60.0, arrived=58.0) == 28.0
    assert clock.remaining(70.0) == 18.0  # once heard, for good


@pytest.mark.parametrize(
    ("args", "error", "text"),
    [
        ((0,), ConfigError, "wrap_idle_timeout expected a positive number of seconds, got 0"),
        (
            (float("nan"),),
            ConfigError,
            "wrap_idle_timeout expected a positive number of seconds, got nan",
        ),
        (
            (True,),
            ConfigTypeError,
            "wrap_idle_timeout expected a positive number of seconds, got True",
        ),
        (
            ("5",),
            ConfigTypeError,
            "wrap_idle_timeout expected a positive number of seconds, got '5'",
        ),
        (
            (5, 1006),
            InvalidMessage,
            "wrap_idle_timeout expected a close code in 1000-1003, 1007-1014 or 3000-4999, got 1006",
        ),
        (
            (5, 4000, "x" * 124),
            InvalidMessage,
            "wrap_idle_timeout expected a reason of at most 123 UTF-8 bytes, got 124",
        ),
    ],
)
def test_configuration_is_checked_at_once(args, error, text):
    with pytest.raises(error) as info:
        wrap_idle_timeout(*args)
    assert str(info.value) == text


# -- the middleware, through the in-memory client ------------------------------------------


def hooks(trail: list[str]):
    async def on_disconnect(scope):
        trail.append("on_disconnect")

    async def on_close(scope):
        trail.append("on_close")

    return {"on_disconnect": on_disconnect, "on_close": on_close}


async def test_a_silent_client_is_closed_where_the_handler_reads(clock, no_leaked_tasks):
    trail: list[str] = []

    @websocket(**hooks(trail))
    @wrap_idle_timeout(IDLE)
    async def echo(scope, receiver):
        try:
            async for message in receiver:
                yield ws_send(message)
        except asyncio.CancelledError:
            trail.append("cancelled")
            raise
        finally:
            trail.append("finally")

    async with connect(echo, timeout=WAIT) as ws:
        await ws.send("hi")
        assert await ws.receive() == "hi"
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.reason) == (1001, "idle timeout")
    assert clock.now() == IDLE
    assert trail == ["cancelled", "finally", "on_close"]
    assert not ws._task.cancelled() and ws.app_exceptions == []
    no_leaked_tasks()


async def test_frames_keep_the_connection_open(clock):
    @websocket
    @wrap_idle_timeout(IDLE)
    async def echo(scope, receiver):
        async for message in receiver:
            yield ws_send(message)

    async with connect(echo, timeout=WAIT) as ws:
        for index in range(8):  # 8 x 12 s: over three times the idle time, never silent
            await ws.send(str(index))
            assert await ws.receive() == str(index)
            await clock.advance(IDLE * 0.4)
        assert clock.now() == 8 * IDLE * 0.4
        assert await ws.wait_closed() == 1001
        assert clock.now() == 7 * IDLE * 0.4 + IDLE  # idle from the last frame on


async def test_a_stream_that_only_yields_has_a_silent_client(clock, no_leaked_tasks):
    trail: list[str] = []

    @websocket(**hooks(trail))
    @wrap_idle_timeout(IDLE, code=4000, reason="say something")
    async def ticker(scope, receiver):
        try:
            while True:
                yield ws_send("tick")
                await asyncio.sleep(IDLE / 4)
        finally:
            trail.append("finally")

    async with connect(ticker, timeout=WAIT) as ws:
        ticks = 0
        with pytest.raises(AppClosed) as info:
            while True:
                assert await ws.receive() == "tick"
                ticks += 1
    assert (info.value.code, info.value.reason) == (4000, "say something")
    assert ticks == 4  # at 0, 7.5, 15 and 22.5 s; cancelled at 30 where it sleeps
    assert clock.now() == IDLE
    assert trail == ["finally", "on_close"]
    no_leaked_tasks()


@pytest.mark.parametrize("blocker", ["sleep", "event", "queue"])
async def test_a_blocked_handler_is_cancelled_where_it_waits(blocker, clock, no_leaked_tasks):
    trail: list[str] = []

    @websocket(**hooks(trail))
    @wrap_idle_timeout(IDLE)
    async def feed(scope, receiver):
        try:
            yield ws_send("ready")
            if blocker == "sleep":
                await asyncio.sleep(3600)
            elif blocker == "event":
                await asyncio.Event().wait()
            else:
                await asyncio.Queue().get()
        except asyncio.CancelledError:
            trail.append("cancelled")
            raise
        finally:
            trail.append("finally")

    async with connect(feed, timeout=WAIT) as ws:
        assert await ws.receive() == "ready"
        assert await ws.wait_closed() == 1001
    assert clock.now() == IDLE
    assert trail == ["cancelled", "finally", "on_close"]
    no_leaked_tasks()


async def test_frames_waiting_unread_count_as_activity(clock):
    @websocket
    @wrap_idle_timeout(IDLE)
    async def deaf(scope, receiver):
        yield ws_send("ready")
        await asyncio.sleep(3600)  # never reads: the frames wait in the buffer

    async with connect(deaf, timeout=WAIT) as ws:
        assert await ws.receive() == "ready"
        for index in range(6):  # 6 x 12 s
            await ws.send(str(index))
            await clock.advance(IDLE * 0.4)
        assert ws.close_code is None
        assert await ws.wait_closed() == 1001
        assert clock.now() == 5 * IDLE * 0.4 + IDLE  # idle from the last frame's arrival


async def test_a_frame_waiting_unread_restarts_the_clock_when_it_arrives(clock):
    """wrap_idle_timeout(30), a frame at t=20 that the handler does not read yet: closed at
    t=50, not when the timer first looks (t=30) plus 30."""
    receivers: list = []

    @websocket
    @wrap_idle_timeout(30)
    async def late_reader(scope, receiver):
        receivers.append(receiver)
        yield ws_send("ready")
        await asyncio.sleep(3600)  # not reading yet: the frame waits in the buffer
        yield ws_send(await receiver.receive())

    async with connect(late_reader, timeout=WAIT) as ws:
        assert await ws.receive() == "ready"
        await clock.advance(20)
        assert receivers[0].arrived_at is None
        await ws.send("hello")
        await clock.advance(0)
        assert (receivers[0].buffered, receivers[0].arrived_at) == (1, 20.0)
        assert await ws.wait_closed() == 1001
        assert clock.now() == 50.0
        assert ws.close_reason == "idle timeout"
    assert [m.get("text") for m in ws.sent if m["type"] == "websocket.send"] == ["ready"]


async def test_a_handler_that_swallows_the_cancellation_is_cancelled_again(clock, no_leaked_tasks):
    swallowed: list[int] = []

    @websocket
    @wrap_idle_timeout(IDLE)
    async def stubborn(scope, receiver):
        yield ws_send("ready")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.append(1)  # bad manners: carries on
        await asyncio.sleep(3600)

    async with connect(stubborn, timeout=WAIT) as ws:
        assert await ws.receive() == "ready"
        assert await ws.wait_closed() == 1001
        assert clock.now() == 2 * IDLE  # cancelled at 30 s, swallowed; again at 60 s
    assert swallowed == [1]
    assert not ws._task.cancelled()
    no_leaked_tasks()


async def test_a_handler_that_swallows_it_and_yields_is_closed_at_that_yield(clock):
    @websocket
    @wrap_idle_timeout(IDLE)
    async def stubborn(scope, receiver):
        with contextlib.suppress(asyncio.CancelledError):  # bad manners
            await asyncio.sleep(3600)
        yield ws_send("too late")

    async with connect(stubborn, timeout=WAIT) as ws:
        assert await ws.wait_closed() == 1001
        assert clock.now() == IDLE
    assert all(m.get("text") != "too late" for m in ws.sent)
    assert not ws._task.cancelled()


async def test_the_drain_cancellation_after_the_client_left_is_not_swallowed(
    clock, no_leaked_tasks
):
    trail: list[str] = []

    @websocket(drain_timeout=1.0, **hooks(trail))
    @wrap_idle_timeout(IDLE)
    async def blocked(scope, receiver):
        try:
            yield ws_send("ready")
            await asyncio.Event().wait()
        finally:
            trail.append("finally")

    async with connect(blocked, timeout=WAIT) as ws:
        assert await ws.receive() == "ready"
        await clock.advance(5)
        await ws.close()  # returns once the app is done
        assert clock.now() == 6.0  # the drain time after the client left, not the idle time
    assert trail == ["finally", "on_disconnect", "on_close"]
    assert [m["type"] for m in ws.sent] == ["websocket.accept", "websocket.send"]
    no_leaked_tasks()


def raw_connection(app):
    """Run ``app`` as a server would, in a task: the events it gets and what it sends."""
    events: asyncio.Queue[dict] = asyncio.Queue()
    events.put_nowait({"type": "websocket.connect"})
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    task = asyncio.create_task(app({"type": "websocket", "path": "/"}, events.get, send))
    return task, events, sent


async def test_a_server_shutdown_is_not_swallowed(clock, no_leaked_tasks):
    trail: list[str] = []

    @websocket(**hooks(trail))
    @wrap_idle_timeout(10.0)
    async def stream(scope, receiver):
        while True:
            yield ws_send("x")
            await asyncio.sleep(0.01)

    task, _, sent = raw_connection(stream)
    await asyncio.sleep(0.03)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert trail == ["on_close"]
    assert sent[-1] == {"type": "websocket.close", "code": 1012, "reason": "service restart"}
    no_leaked_tasks()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 has no Task.uncancel")
async def test_a_server_cancel_at_the_same_time_as_the_timeout_is_not_swallowed(clock):
    @websocket
    @wrap_idle_timeout(IDLE)
    async def blocked(scope, receiver):
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            asyncio.current_task().cancel()  # the server shuts down in the same instant
            raise
        yield ws_send("never")

    task, _, sent = raw_connection(blocked)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sent[-1] == {"type": "websocket.close", "code": 1012, "reason": "service restart"}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 has no Task.uncancel")
async def test_a_server_cancel_pending_when_the_timer_fires_is_not_swallowed(clock, monkeypatch):
    module = importlib.import_module("shallot_ws.middlewares.wrap_idle_timeout")
    fire = module._Watch._fire

    def server_cancels_first(watch):
        watch._canceller.task.cancel()  # requested in the same loop iteration, not yet delivered
        fire(watch)

    monkeypatch.setattr(module._Watch, "_fire", server_cancels_first)

    @websocket
    @wrap_idle_timeout(IDLE)
    async def blocked(scope, receiver):
        await asyncio.Event().wait()
        yield ws_send("never")

    task, _, sent = raw_connection(blocked)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sent[-1] == {"type": "websocket.close", "code": 1012, "reason": "service restart"}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 has no Task.cancelling")
async def test_the_timeout_leaves_no_cancellation_counted_on_the_task(clock):
    @websocket
    @wrap_idle_timeout(IDLE)
    async def echo(scope, receiver):
        async for message in receiver:
            yield ws_send(message)

    @websocket
    @wrap_idle_timeout(IDLE)
    async def swallower(scope, receiver):
        with contextlib.suppress(asyncio.CancelledError):  # bad manners
            await asyncio.sleep(3600)
        yield ws_send("too late")

    for app in (echo, swallower):
        task, _, sent = raw_connection(app)
        await task
        assert sent[-1] == {"type": "websocket.close", "code": 1001, "reason": "idle timeout"}
        assert task.cancelling() == 0


async def test_a_slow_send_is_never_cancelled_the_close_follows_it(clock):
    """The timer fires while the driver awaits the server's send: nothing is cancelled,
    the close goes as soon as the send is done."""
    cancelled_sends: list[str] = []
    trail: list[str] = []

    @websocket
    @wrap_idle_timeout(IDLE)
    async def talker(scope, receiver):
        try:
            yield ws_send("slow")
            trail.append("resumed")  # never: closed at the yield
        finally:
            trail.append("finally")

    events: asyncio.Queue[dict] = asyncio.Queue()
    events.put_nowait({"type": "websocket.connect"})
    sent: list[dict] = []

    async def send(message):
        if message.get("text") == "slow":
            try:
                await asyncio.sleep(3 * IDLE)  # a client that reads slowly
            except asyncio.CancelledError:
                cancelled_sends.append("cancelled")
                raise
        sent.append(message)

    await asyncio.wait_for(talker({"type": "websocket"}, events.get, send), 10 * IDLE)
    assert clock.now() == 3 * IDLE  # the close right after the slow send
    assert cancelled_sends == []
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[-1]["reason"] == "idle timeout"
    assert trail == ["finally"]


async def test_the_timer_dies_with_the_connection(clock):
    """A connection run in the test's own task: a timer left behind would cancel the test."""

    @websocket
    @wrap_idle_timeout(IDLE)
    async def quick(scope, receiver):
        yield ws_send("bye")

    events: asyncio.Queue[dict] = asyncio.Queue()
    events.put_nowait({"type": "websocket.connect"})
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    await quick({"type": "websocket"}, events.get, send)
    assert sent[-1] == {"type": "websocket.close", "code": 1000, "reason": ""}
    await asyncio.sleep(3 * IDLE)  # no CancelledError here


async def test_under_wrap_json_the_cancellation_passes_through(clock):
    @websocket
    @compose(wrap_idle_timeout(IDLE), wrap_json)
    async def chat(scope, receiver):
        async for value in receiver:
            yield {"echo": value}

    async with connect(chat, timeout=WAIT) as ws:
        await ws.send("[1]")
        assert await ws.receive() == '{"echo": [1]}'
        assert await ws.wait_closed() == 1001


# -- over real servers: their receive() is what the timer cancels -------------------------


@websocket
@wrap_idle_timeout(0.3)
async def served_echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


@websocket
@wrap_idle_timeout(0.3, code=4008, reason="say something")
async def served_ticker(scope, receiver):
    while True:
        yield ws_send("tick")
        await asyncio.sleep(0.05)


@pytest.mark.server
@pytest.mark.parametrize(
    ("server", "app", "code", "reason"),
    [
        ("hypercorn", "served_echo", 1001, "idle timeout"),
        ("uvicorn", "served_echo", 1001, "idle timeout"),
        ("hypercorn", "served_ticker", 4008, "say something"),
        ("granian", "served_echo", 1001, "idle timeout"),
        ("granian", "served_ticker", 4008, "say something"),  # once a LifecycleError (fixed)
    ],
)
async def test_a_real_server_delivers_the_idle_close(serve, server, app, code, reason):
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed

    running = serve(f"tests.test_wrap_idle_timeout:{app}", server=server)
    async with ws_connect(running.ws_url("/"), open_timeout=5) as ws:
        if app == "served_echo":
            for index in range(4):  # 4 x 0.15 s: twice the idle time, kept alive by frames
                await ws.send(str(index))
                assert await asyncio.wait_for(ws.recv(), 5) == str(index)
                await asyncio.sleep(0.15)
        start = time.monotonic()
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        elapsed = time.monotonic() - start
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (code, reason)
    assert elapsed < 1.5
    running.stop()  # uvicorn ends by its SIGTERM (-15), the others with 0: either is fine here
    assert "Traceback" not in running.log()
