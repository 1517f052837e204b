"""The driver, rule by rule of docs/design.md §2, through the in-memory client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import pytest

from shallot_ws import (
    InvalidMessage,
    ProtocolError,
    SubprotocolError,
    WSDisconnect,
    websocket,
    ws_accept,
    ws_close,
    ws_deny,
    ws_send,
)
from shallot_ws.testing import AppClosed, HandshakeRefused, connect, virtual_time


def recorder():
    """Hooks that append their name to a list, and the list."""
    calls: list[str] = []

    def hook(name):
        async def run(scope):
            calls.append(name)

        run.__name__ = name
        return run

    return calls, {"on_disconnect": hook("on_disconnect"), "on_close": hook("on_close")}


@websocket
async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


# -- 1. handshake -------------------------------------------------------------------------


async def test_accepts_by_default_and_echoes_text_and_bytes(no_leaked_tasks):
    async with connect(echo) as ws:
        await ws.send("héllo")
        assert await ws.receive() == "héllo"
        await ws.send(b"\x00\xff")
        assert await ws.receive() == b"\x00\xff"
    assert ws.sent[0] == {"type": "websocket.accept"}
    no_leaked_tasks()


async def test_on_connect_accepts_with_subprotocol_and_headers():
    async def on_connect(scope):
        return ws_accept("chat.v2", {"x-server": "shallot"})

    app = websocket(on_connect=on_connect)(echo.handler)
    async with connect(app, subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert ws.accepted_subprotocol == "chat.v2"
        assert ws.accept_headers == [(b"x-server", b"shallot")]


async def test_a_subprotocol_the_client_did_not_offer_is_an_error_never_sent(caplog):
    async def on_connect(scope):
        return ws_accept("mqtt")

    app = websocket(on_connect=on_connect)(echo.handler)
    with pytest.raises(SubprotocolError) as info:
        async with connect(app, subprotocols=["chat"]):
            pass
    assert str(info.value) == (
        "on_connect hook test_a_subprotocol_the_client_did_not_offer_is_an_error_never_sent."
        "<locals>.on_connect accepted subprotocol 'mqtt', which the client did not offer "
        "(offered: ['chat'])"
    )
    connection = connect(app, subprotocols=["chat"], raise_app_exceptions=False)
    with pytest.raises(HandshakeRefused) as refused:
        async with connection:
            pass
    assert refused.value.status == 500
    assert [m["type"] for m in connection.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]


async def test_on_connect_close_refuses_with_403_and_the_handler_never_runs():
    ran = []
    calls, hooks = recorder()

    async def on_connect(scope):
        return ws_close()

    @websocket(on_connect=on_connect, **hooks)
    async def handler(scope, receiver):
        ran.append(True)
        yield ws_send("never")

    with pytest.raises(HandshakeRefused) as info:
        async with connect(handler):
            pass
    assert info.value.status == 403
    assert ran == [] and calls == []


async def test_on_connect_deny_sends_the_http_response():
    async def on_connect(scope):
        return ws_deny(401, "no token", {"www-authenticate": "Bearer"})

    app = websocket(on_connect=on_connect)(echo.handler)
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app):
            pass
    assert info.value.status == 401
    assert info.value.body == b"no token"
    assert (b"www-authenticate", b"Bearer") in info.value.headers


async def test_deny_falls_back_to_a_plain_refusal_without_the_extension():
    async def on_connect(scope):
        return ws_deny(401, "no token")

    app = websocket(on_connect=on_connect)(echo.handler)
    connection = connect(app, denial_response=False)
    with pytest.raises(HandshakeRefused) as info:
        async with connection:
            pass
    assert info.value.status == 403
    assert connection.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


@pytest.mark.parametrize(("denial", "status"), [(True, 500), (False, 403)])
async def test_on_connect_that_raises_refuses_and_is_logged(caplog, denial, status):
    async def on_connect(scope):
        raise RuntimeError("secret token abc")

    app = websocket(on_connect=on_connect)(echo.handler)
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app, denial_response=denial, raise_app_exceptions=False):
            pass
    assert info.value.status == status
    assert info.value.body == b""
    records = [r for r in caplog.records if r.name == "shallot_ws"]
    assert len(records) == 1 and records[0].exc_info[0] is RuntimeError


async def test_on_connect_returning_junk_is_a_clear_error():
    async def on_connect(scope):
        return "yes"

    app = websocket(on_connect=on_connect)(echo.handler)
    with pytest.raises(InvalidMessage) as info:
        async with connect(app):
            pass
    assert str(info.value).endswith(
        "on_connect returned 'yes': expected None, ws_accept(), ws_close() or ws_deny()"
    )


async def test_on_connect_returning_a_bad_value_is_logged_as_that_not_as_raising(caplog):
    async def on_connect(scope):
        return True

    app = websocket(on_connect=on_connect)(echo.handler)
    with caplog.at_level("ERROR", logger="shallot_ws"), pytest.raises(HandshakeRefused) as info:
        async with connect(app, raise_app_exceptions=False):
            pass
    assert info.value.status == 500  # the test client offers the denial extension
    records = [r for r in caplog.records if r.name == "shallot_ws"]
    assert [r.getMessage() for r in records] == [
        "on_connect hook test_on_connect_returning_a_bad_value_is_logged_as_that_not_as_raising"
        ".<locals>.on_connect returned a bad value; refusing the connection"
    ]
    assert records[0].exc_info[0] is InvalidMessage
    assert str(records[0].exc_info[1]).endswith(
        "returned True: expected None, ws_accept(), ws_close() or ws_deny()"
    )


async def test_the_first_event_must_be_connect():
    async def receive():
        return {"type": "websocket.receive", "text": "x"}

    async def send(message):
        raise AssertionError(message)

    with pytest.raises(ProtocolError) as info:
        await echo({"type": "websocket"}, receive, send)
    assert str(info.value) == "expected a 'websocket.connect' event first, got 'websocket.receive'"


# -- 3. and 4. the handler finishes, or yields a close -----------------------------------


async def test_a_finished_handler_closes_with_1000_and_runs_only_on_close():
    calls, hooks = recorder()

    @websocket(**hooks)
    async def hello(scope, receiver):
        yield ws_send("hello")

    async with connect(hello) as ws:
        assert await ws.receive() == "hello"
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert info.value.code == 1000 and ws.close_code == 1000 and ws.close_reason == ""
    assert calls == ["on_close"]


async def test_a_yielded_close_is_sent_as_given_then_the_generator_is_closed():
    calls, hooks = recorder()
    cleaned = []

    @websocket(**hooks)
    async def closer(scope, receiver):
        try:
            yield ws_send("before")
            yield ws_close(4001, "done")
            yield ws_send("after")  # never reached
        finally:
            cleaned.append(True)

    async with connect(closer) as ws:
        assert await ws.receive() == "before"
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.reason) == (4001, "done")
    assert ws.sent[-1] == {"type": "websocket.close", "code": 4001, "reason": "done"}
    assert cleaned == [True] and calls == ["on_close"]


async def test_the_seed_echo_closes_with_1001_on_exit():
    from examples.echo import echo as seed_echo

    async with connect(seed_echo) as ws:
        await ws.send("hi")
        assert await ws.receive() == "@ECHO: hi"
        await ws.send("exit")
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.reason) == (1001, "bye")


# -- 5. the client disconnects ------------------------------------------------------------


async def test_client_disconnect_runs_on_disconnect_then_on_close(no_leaked_tasks):
    calls, hooks = recorder()
    app = websocket(**hooks)(echo.handler)
    async with connect(app) as ws:
        await ws.send("a")
        assert await ws.receive() == "a"
        await ws.close(1001)
    assert calls == ["on_disconnect", "on_close"]
    assert [m["type"] for m in ws.sent] == ["websocket.accept", "websocket.send"]
    no_leaked_tasks()


async def test_a_reading_handler_loses_nothing_the_client_sent():
    stored: list[str] = []

    @websocket
    async def store(scope, receiver):
        async for message in receiver:
            await asyncio.sleep(0.001)  # some work per frame: the watcher reads meanwhile
            stored.append(message)
            yield ws_send(f"ack {message}")

    frames = [f"m{i}" for i in range(60)]
    async with virtual_time(), connect(store) as ws:  # the work per frame takes no real time
        for frame in frames:
            await ws.send(frame)
        await ws.close()  # without reading a single ack
    assert stored == frames
    assert all(m["type"] != "websocket.close" for m in ws.sent)


async def test_receive_raises_wsdisconnect_with_the_client_code():
    seen: list[int] = []

    @websocket
    async def handler(scope, receiver):
        try:
            while True:
                yield ws_send(await receiver.receive())
        except WSDisconnect as exc:
            seen.append(exc.code)
            raise

    async with connect(handler) as ws:
        await ws.send("x")
        assert await ws.receive() == "x"
        await ws.close(4002)
    assert seen == [4002]


async def test_wsdisconnect_escaping_the_handler_is_a_disconnect_not_an_error(caplog):
    calls, hooks = recorder()

    @websocket(**hooks)
    async def handler(scope, receiver):
        while True:
            yield ws_send(await receiver.receive())

    async with connect(handler) as ws:
        await ws.close()
    assert calls == ["on_disconnect", "on_close"]
    assert not [r for r in caplog.records if r.name == "shallot_ws"]


async def test_a_stream_that_only_yields_is_closed_at_its_yield(no_leaked_tasks):
    calls, hooks = recorder()
    stopped: list[float] = []

    @websocket(**hooks)
    async def ticker(scope, receiver):
        try:
            while True:
                yield ws_send("tick")
                await asyncio.sleep(0.02)
        finally:
            stopped.append(clock.now())

    async with virtual_time() as clock, connect(ticker) as ws:
        assert await ws.receive() == "tick"
        left = clock.now()
        await ws.close()
    assert stopped == [left + 0.02]  # at its next yield, long before the drain time (0.5 s)
    assert calls == ["on_disconnect", "on_close"]
    no_leaked_tasks()


@pytest.mark.parametrize("blocker", ["sleep", "event", "queue"])
async def test_a_blocked_handler_is_cancelled_after_the_drain_time(blocker, no_leaked_tasks):
    calls, hooks = recorder()
    stopped: list[str] = []

    @websocket(drain_timeout=0.05, **hooks)
    async def feed(scope, receiver):
        try:
            yield ws_send("ready")
            if blocker == "sleep":
                await asyncio.sleep(3600)
            elif blocker == "event":
                await asyncio.Event().wait()
            else:
                await asyncio.Queue().get()
            yield ws_send("never")
        except asyncio.CancelledError:
            stopped.append("cancelled")
            raise
        finally:
            stopped.append("finally")

    async with virtual_time() as clock, connect(feed, timeout=1.0) as ws:
        assert await ws.receive() == "ready"
        start = clock.now()
        await ws.close()
        elapsed = clock.now() - start
    assert stopped == ["cancelled", "finally"]
    assert elapsed == 0.05  # exactly the drain time
    assert calls == ["on_disconnect", "on_close"]
    assert ws.sent[-1] == {"type": "websocket.send", "text": "ready"}
    no_leaked_tasks()


async def test_the_drain_timer_restarts_while_the_handler_reads_buffered_frames():
    stored: list[str] = []

    @websocket(drain_timeout=0.1, max_buffered=8)
    async def slow(scope, receiver):
        async for message in receiver:
            await asyncio.sleep(0.03)  # each frame takes less than the drain time
            stored.append(message)
            yield ws_send("ok")

    frames = [str(i) for i in range(12)]
    async with virtual_time() as clock, connect(slow) as ws:
        for frame in frames:
            await ws.send(frame)
        await ws.close()
        assert clock.now() == pytest.approx(12 * 0.03)
    assert stored == frames  # 12 x 30 ms > 100 ms, yet nothing was cut off


async def test_a_handler_that_read_to_the_end_is_closed_at_its_next_yield():
    after: list[str] = []

    @websocket
    async def handler(scope, receiver):
        try:
            async for message in receiver:
                yield ws_send(message)
            after.append("loop ended")
            yield ws_send("goodbye")  # dropped: the client is gone
            after.append("resumed")  # never: closed at the yield above
        finally:
            after.append("finally")

    async with connect(handler) as ws:
        await ws.send("x")
        assert await ws.receive() == "x"
        await ws.close()
    assert after == ["loop ended", "finally"]
    assert {"type": "websocket.send", "text": "goodbye"} not in ws.sent


async def test_the_inbound_buffer_is_bounded_and_the_client_is_pushed_back():
    seen: list[int] = []
    got: list[str] = []
    release = asyncio.Event()

    @websocket(max_buffered=4)
    async def sleepy(scope, receiver):
        await release.wait()  # does not read: the watcher fills the buffer, then stops
        seen.append(receiver.buffered)
        async for message in receiver:
            seen.append(receiver.buffered)
            got.append(message)
        yield ws_send(str(len(got)))

    frames = [str(i) for i in range(200)]
    async with virtual_time() as clock, connect(sleepy, queue_size=3) as ws:
        sender = asyncio.create_task(_send_all(ws, frames))
        await clock.advance(0)  # until nothing more can happen without the handler
        assert not sender.done()  # pushed back: buffer (4) and server queue (3) are full
        release.set()
        await sender
        await ws.close()
    assert got == frames
    assert max(seen) <= 4 and seen[0] == 4


async def _send_all(ws, frames):
    for frame in frames:
        await ws.send(frame)


# -- 6. the handler raises ----------------------------------------------------------------


async def test_a_raising_handler_closes_1011_logs_once_and_leaks_no_text(caplog):
    calls, hooks = recorder()

    @websocket(**hooks)
    async def broken(scope, receiver):
        async for message in receiver:
            raise ValueError(f"password={message}")
        yield ws_send("unreachable")

    async with connect(broken) as ws:
        await ws.send("hunter2")
        with pytest.raises(ValueError, match="password=hunter2"):
            await ws.receive()  # the handler's own exception, re-raised into the test
    assert ws.close_code == 1011 and ws.close_reason == ""
    records = [r for r in caplog.records if r.name == "shallot_ws"]
    assert len(records) == 1
    assert records[0].exc_info[0] is ValueError
    assert "broken" in records[0].getMessage()
    assert calls == ["on_close"]


async def test_a_yielded_non_message_closes_1011_naming_handler_and_value(caplog):
    @websocket
    async def sloppy(scope, receiver):
        yield "just a string"

    async with connect(sloppy, raise_app_exceptions=False) as ws:
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert info.value.code == 1011
    (error,) = ws.app_exceptions
    assert str(error) == (
        "handler test_a_yielded_non_message_closes_1011_naming_handler_and_value.<locals>."
        "sloppy yielded 'just a string': expected a message dict from ws_send() or ws_close()"
    )


async def test_hooks_that_raise_are_logged_and_do_not_stop_the_others(caplog):
    calls: list[str] = []

    async def bad_disconnect(scope):
        calls.append("on_disconnect")
        raise KeyError("boom")

    async def on_close(scope):
        calls.append("on_close")

    app = websocket(on_disconnect=bad_disconnect, on_close=on_close)(echo.handler)
    async with connect(app, raise_app_exceptions=False) as ws:
        await ws.close()
    assert calls == ["on_disconnect", "on_close"]
    assert [type(e) for e in ws.app_exceptions] == [KeyError]
    assert any("on_disconnect hook" in r.getMessage() for r in caplog.records)


# -- 7. on_close always, exactly once -----------------------------------------------------


async def test_on_close_runs_once_when_the_server_cancels_the_task(no_leaked_tasks):
    calls, hooks = recorder()
    sent: list[dict] = []
    streaming = asyncio.Event()
    events: asyncio.Queue[dict] = asyncio.Queue()
    events.put_nowait({"type": "websocket.connect"})

    @websocket(**hooks)
    async def stream(scope, receiver):
        while True:
            yield ws_send("x")
            await asyncio.sleep(0.01)

    async def send(message):
        sent.append(message)
        if message["type"] == "websocket.send":
            streaming.set()

    task = asyncio.create_task(stream({"type": "websocket"}, events.get, send))
    await streaming.wait()  # the stream sent its first frame and sleeps till the next
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == ["on_close"]
    assert sent[-1] == {"type": "websocket.close", "code": 1012, "reason": "service restart"}
    assert sum(m["type"] == "websocket.close" for m in sent) == 1
    no_leaked_tasks()


async def test_send_raising_oserror_counts_as_the_client_leaving(caplog):
    calls, hooks = recorder()
    events: asyncio.Queue[dict] = asyncio.Queue()
    events.put_nowait({"type": "websocket.connect"})
    sent: list[dict] = []

    @websocket(**hooks)
    async def stream(scope, receiver):
        while True:
            yield ws_send("x")

    async def send(message):
        if message["type"] == "websocket.send" and len(sent) >= 3:
            raise ConnectionResetError("client gone")  # ASGI 2.4: an OSError
        sent.append(message)

    await asyncio.wait_for(stream({"type": "websocket"}, events.get, send), 1)
    assert calls == ["on_disconnect", "on_close"]
    assert [m["type"] for m in sent] == ["websocket.accept"] + ["websocket.send"] * 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_server_that_breaks_the_protocol_gets_1011(caplog):
    events: asyncio.Queue[dict] = asyncio.Queue()
    for event in ({"type": "websocket.connect"}, {"type": "websocket.receive"}):
        events.put_nowait(event)
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(echo({"type": "websocket"}, events.get, send), 1)
    assert sent[-1] == {"type": "websocket.close", "code": 1011, "reason": ""}
    (record,) = [r for r in caplog.records if r.name == "shallot_ws"]
    assert str(record.exc_info[1]) == (
        "expected 'text' or 'bytes' in a 'websocket.receive' event, got neither"
    )


# -- coroutine handlers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "messages", "code"),
    [
        (ws_send("hi"), ["hi"], 1000),
        (None, [], 1000),
        (ws_close(4000, "bye"), [], 4000),
    ],
)
async def test_a_coroutine_handler_sends_what_it_returns_then_closes(result, messages, code):
    @websocket
    async def once(scope, receiver):
        await asyncio.sleep(0)
        return result

    async with connect(once) as ws:
        received = []
        with pytest.raises(AppClosed) as info:
            while True:
                received.append(await ws.receive())
    assert received == messages and info.value.code == code


async def test_a_handler_that_swallows_the_cancellation_is_cancelled_again(no_leaked_tasks):
    calls, hooks = recorder()
    swallowed: list[int] = []

    @websocket(drain_timeout=0.03, **hooks)
    async def stubborn(scope, receiver):
        yield ws_send("ready")
        for attempt in range(2):
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                swallowed.append(attempt)  # bad manners: carries on
        await asyncio.Event().wait()

    async with virtual_time() as clock, connect(stubborn, timeout=1.0) as ws:
        assert await ws.receive() == "ready"
        await ws.close()
        assert clock.now() == pytest.approx(3 * 0.03)  # cancelled again each drain time
    assert swallowed == [0, 1]
    assert calls == ["on_disconnect", "on_close"]
    no_leaked_tasks()


async def test_a_blocking_finally_block_is_bounded_by_the_drain_time_too():
    calls, hooks = recorder()
    cleanup: list[str] = []

    @websocket(drain_timeout=0.03, **hooks)
    async def slow_cleanup(scope, receiver):
        try:
            async for message in receiver:
                yield ws_send(message)
        finally:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cleanup.append("cut short")
                raise

    async with virtual_time() as clock, connect(slow_cleanup, timeout=1.0) as ws:
        await ws.close()
        assert clock.now() == 0.03
    assert cleanup == ["cut short"]
    assert calls == ["on_disconnect", "on_close"]


async def test_hand_built_messages_are_validated_in_full():
    @websocket
    async def by_hand(scope, receiver):
        yield {"type": "websocket.send", "text": "fine"}
        yield {"type": "websocket.send", "bytes": b"fine"}
        yield {"type": "websocket.send", "text": 5}

    async with connect(by_hand, raise_app_exceptions=False) as ws:
        assert await ws.receive() == "fine"
        assert await ws.receive() == b"fine"
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert info.value.code == 1011
    (error,) = ws.app_exceptions
    assert str(error) == (
        "handler test_hand_built_messages_are_validated_in_full.<locals>.by_hand yielded "
        "{'type': 'websocket.send', 'text': 5}: expected 'text' as str, got int"
    )


async def test_a_server_cancel_after_the_client_left_still_runs_on_disconnect():
    calls, hooks = recorder()
    events: asyncio.Queue[dict] = asyncio.Queue()
    events.put_nowait({"type": "websocket.connect"})
    sent: list[dict] = []

    @websocket(drain_timeout=10, **hooks)
    async def idle(scope, receiver):
        yield ws_send("ready")
        await asyncio.Event().wait()  # not reading

    async def send(message):
        sent.append(message)

    async with virtual_time() as clock:
        task = asyncio.create_task(idle({"type": "websocket"}, events.get, send))
        await clock.advance(0)  # the loop settles: the handler sent "ready" and waits
        assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"]
        events.put_nowait({"type": "websocket.disconnect", "code": 1000})  # the client leaves
        await clock.advance(0)  # the watcher takes it; no time passed: the drain time is far
        assert events.empty() and clock.now() == 0
        task.cancel()  # the server shuts down
        with pytest.raises(asyncio.CancelledError):
            await task
    assert calls == ["on_disconnect", "on_close"]
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"]  # no 1001


# -- regressions from the review of the driver (each failed before its fix) ------------------


def _pair(events, slow_for=(), on_send=None):
    """A hand-written server: receive() pops from a queue; send() records, and takes 50 ms
    for the message types in ``slow_for`` (longer than the drain times below)."""
    inbound: asyncio.Queue = asyncio.Queue()
    for event in events:
        inbound.put_nowait(event)
    sent: list[dict] = []

    async def send(message):
        sent.append(message)
        if on_send is not None:
            on_send(message, inbound)
        if message["type"] in slow_for:
            await asyncio.sleep(0.05)

    return inbound, sent, inbound.get, send


CONNECT = {"type": "websocket.connect"}


async def test_a_close_yielded_after_the_client_left_still_closes_the_generator():
    seen: list[str] = []

    @websocket
    async def handler(scope, receiver):
        async for message in receiver:
            seen.append(message)
            if message == "exit":
                await asyncio.sleep(0.05)  # the watcher reads 'after' and the disconnect
                yield ws_close(1001, "bye")
                seen.append("resumed after its close")

    # On virtual time the handler's pause ends only once the loop has nothing else to do.
    async with virtual_time(), connect(handler) as ws:
        await ws.send("exit")
        await ws.send("after")
        await ws.close()
    assert seen == ["exit"]


async def test_a_wsdisconnect_the_handler_raises_itself_is_an_error(caplog):
    @websocket
    async def handler(scope, receiver):
        await receiver.receive()
        raise WSDisconnect(1000)  # another connection's, say: not this client's
        yield

    async with connect(handler, raise_app_exceptions=False) as ws:
        await ws.send("x")
        assert await ws.wait_closed() == 1011
    assert [type(e) for e in ws.app_exceptions] == [WSDisconnect]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 cannot tell who cancelled")
async def test_a_cancelled_error_the_handler_raises_itself_is_an_error_not_a_shutdown():
    @websocket
    async def handler(scope, receiver):
        await receiver.receive()
        future = asyncio.get_running_loop().create_future()
        future.cancel()
        await future  # nobody cancelled this connection
        yield ws_send("unreachable")

    async with connect(handler, raise_app_exceptions=False) as ws:
        await ws.send("x")
        assert await ws.wait_closed() == 1011
    assert ws.close_reason == ""


async def test_a_drain_cancel_landing_in_the_final_close_does_not_escape():
    def leave_during_the_close(message, inbound):
        if message["type"] == "websocket.close":
            inbound.put_nowait({"type": "websocket.disconnect", "code": 1000})

    _, sent, receive, send = _pair([CONNECT], {"websocket.close"}, leave_during_the_close)

    @websocket(drain_timeout=0.01)
    async def handler(scope, receiver):
        await asyncio.sleep(0.01)
        yield ws_send("hi")

    async with virtual_time():
        task = asyncio.ensure_future(handler({"type": "websocket"}, receive, send))
        await asyncio.wait([task], timeout=2)
    assert task.done() and not task.cancelled()
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]


async def test_a_finally_block_after_a_yielded_close_is_not_cut_by_the_clients_reply():
    done: list[bool] = []

    @websocket
    async def handler(scope, receiver):
        try:
            async for _ in receiver:
                yield ws_close(4000, "done")
        finally:
            await asyncio.sleep(0.6)  # longer than the drain time: e.g. a flush
            done.append(clock.now())

    async with virtual_time() as clock, connect(handler, timeout=3) as ws:
        await ws.send("x")
        assert await ws.wait_closed() == 4000
    assert done == [0.6]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling is 3.11+")
async def test_a_swallowed_drain_cancellation_is_taken_back():
    seen: list[int] = []

    async def on_close(scope):
        seen.append(asyncio.current_task().cancelling())

    @websocket(drain_timeout=0.02, on_close=on_close)
    async def handler(scope, receiver):
        yield ws_send("hi")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    async with virtual_time(), connect(handler) as ws:
        await ws.receive()
        await ws.close()
    assert seen == [0]


async def test_the_drain_timer_dies_with_the_connection():
    loop = asyncio.get_running_loop()
    frames = [{"type": "websocket.receive", "text": str(i)} for i in range(6)]
    _, _, receive, send = _pair([CONNECT, *frames, {"type": "websocket.disconnect", "code": 1000}])
    closed: list[str] = []
    readers: list[asyncio.Task] = []

    async def on_close(scope):
        await asyncio.sleep(0.3)  # longer than the drain time, while the reader takes frames
        closed.append("complete")

    @websocket(drain_timeout=0.1, on_close=on_close)
    async def handler(scope, receiver):
        async def reader():  # a reader task the handler forgot to cancel
            async for _ in receiver:
                await asyncio.sleep(0.1)

        readers.append(loop.create_task(reader()))
        await asyncio.Event().wait()
        yield ws_send("unreachable")

    async with virtual_time():
        task = asyncio.ensure_future(handler({"type": "websocket"}, receive, send))
        await asyncio.wait([task], timeout=3)
        # the forgotten reader takes the frames left after the connection ended, then stops
        await asyncio.wait(readers, timeout=3)
        pending = [h for h in loop._scheduled if not h.cancelled() and "_drain_expired" in repr(h)]
    assert (closed, task.cancelled(), pending) == (["complete"], False, [])
    assert all(reader.done() for reader in readers)


async def test_no_second_close_after_a_yielded_close_even_when_the_server_cancels():
    closing = asyncio.Event()

    def note_the_close(message, inbound):
        if message["type"] == "websocket.close":
            closing.set()

    _, sent, receive, send = _pair(
        [CONNECT, {"type": "websocket.receive", "text": "a"}], {"websocket.close"}, note_the_close
    )

    @websocket
    async def handler(scope, receiver):
        await receiver.receive()
        yield ws_close(4000, "done")

    task = asyncio.ensure_future(handler({"type": "websocket"}, receive, send))
    await closing.wait()  # the handler is inside the (slow) send of its close
    task.cancel()
    await asyncio.wait([task], timeout=2)
    assert [m for m in sent if m["type"] == "websocket.close"] == [
        {"type": "websocket.close", "code": 4000, "reason": "done"}
    ]


async def test_a_mutated_ws_send_message_gets_the_clear_error_where_the_server_refuses_it():
    @websocket
    async def handler(scope, receiver):
        yield dict(ws_send("x"), text=b"compressed")  # a payload rewritten in place

    with pytest.raises(InvalidMessage, match="expected 'text' as str, got bytes$"):
        async with connect(handler) as ws:
            await ws.wait_closed()


async def test_the_drain_time_is_exact_on_virtual_time():
    from shallot_ws.testing import virtual_time

    stopped: list[float] = []

    @websocket(drain_timeout=30)
    async def feed(scope, receiver):
        try:
            yield ws_send("ready")
            await asyncio.Event().wait()
        finally:
            stopped.append(clock.now())

    async with virtual_time() as clock, connect(feed, timeout=60) as ws:
        assert await ws.receive() == "ready"
        left = clock.now()
        await ws.close()
    assert stopped == [left + 30]  # half a minute of drain time, in no real time
