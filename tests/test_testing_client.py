"""The in-memory client: loud timeouts, strict ASGI checks, and what it reports."""

from __future__ import annotations

import asyncio

import pytest

from shallot_ws import websocket, ws_send
from shallot_ws.testing import (
    SEND_AFTER_CLOSE_IGNORED,
    SEND_AFTER_CLOSE_OSERROR,
    AppClosed,
    ASGIViolation,
    WSTimeout,
    connect,
    virtual_time,
)


@websocket
async def silent(scope, receiver):
    async for _ in receiver:
        pass
    if False:
        yield


async def test_receive_times_out_loudly_saying_what_it_waited_for():
    async with virtual_time(), connect(silent) as ws:
        with pytest.raises(WSTimeout) as info:
            await ws.receive(timeout=0.05)
    assert str(info.value) == "timed out after 0.05 s waiting for a message from the app"


async def test_an_app_that_never_answers_the_handshake_times_out():
    async def stuck(scope, receive, send):
        await asyncio.Event().wait()

    with pytest.raises(WSTimeout, match="waiting for the app to accept or refuse the handshake$"):
        async with virtual_time() as clock, connect(stuck, timeout=0.05):
            pass
    assert clock.now() == 0.05


async def test_send_times_out_when_the_app_never_reads():
    async def never_reads(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.Event().wait()

    sent = 0
    with pytest.raises(WSTimeout, match=r"waiting for the app to read \(its queue is full\)$"):
        async with virtual_time() as clock, connect(never_reads, timeout=0.05, queue_size=2) as ws:
            for _ in range(3):
                await ws.send("x")
                sent += 1
    # the third send timed out; leaving did not wait for room a second time: the client's
    # disconnect went in behind, the app got its timeout to finish, then was cancelled
    assert sent == 2 and clock.now() == 0.1
    assert ws.finished and ws.app_task is not None and ws.app_task.cancelled()


async def test_sending_before_the_accept_is_a_violation():
    async def rude(scope, receive, send):
        await receive()
        await send({"type": "websocket.send", "text": "too early"})
        await send({"type": "websocket.accept"})

    with pytest.raises(ASGIViolation) as info:
        async with connect(rude):
            pass
    assert "expected an accept, a close or a denial response first" in str(info.value)


async def twice(scope, receive, send):
    """A raw ASGI app that sends after its own close."""
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})
    await send({"type": "websocket.send", "text": "late"})


async def test_sending_after_the_close_raises_in_the_app_and_is_reported():
    with pytest.raises(ASGIViolation) as info:
        async with connect(twice) as ws:
            await ws.wait_closed()
    assert str(info.value) == (
        "expected nothing after the connection ended (closed), "
        "got {'type': 'websocket.send', 'text': 'late'}"
    )
    # what the server raised into the app is the cause
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) == "unexpected ASGI message 'websocket.send' after the close"


@pytest.mark.parametrize(
    ("quirk", "cause"),
    [(SEND_AFTER_CLOSE_OSERROR, OSError), (SEND_AFTER_CLOSE_IGNORED, None)],
)
async def test_a_send_after_the_close_is_an_asgi_violation_under_every_quirk(quirk, cause):
    with pytest.raises(ASGIViolation) as info:
        async with connect(twice, quirks={quirk}) as ws:
            await ws.wait_closed()
    assert str(info.value).startswith("expected nothing after the connection ended (closed)")
    if cause is None:
        assert info.value.__cause__ is None  # the send was dropped: the app did not raise
    else:
        assert type(info.value.__cause__) is cause


async def test_a_handler_error_comes_out_of_the_send_that_meets_the_close():
    @websocket
    async def needs_a_user(scope, receiver):
        user = scope["user"]  # KeyError: no auth middleware in front
        async for message in receiver:
            yield ws_send(f"{user}: {message}")

    async with connect(needs_a_user) as ws:
        assert await ws.wait_closed() == 1011
        with pytest.raises(KeyError, match="'user'"):
            await ws.send("hi")


async def test_a_handler_given_where_an_app_goes_is_named():
    async def plain_handler(scope, receiver):
        yield ws_send("x")

    async def plain_coroutine_handler(scope, receiver):
        return None

    for handler in (plain_handler, plain_coroutine_handler):
        name = handler.__name__
        with pytest.raises(TypeError) as info:
            connect(handler)
        assert str(info.value) == (
            f"connect expected an ASGI app, got the handler {name}: `{name}` is a handler, "
            "not an app: wrap it with `websocket()` or put it in a `router`"
        )


@pytest.mark.parametrize("path", ["noslash", "", "ws://host/x"])
def test_a_path_must_start_with_a_slash(path):
    with pytest.raises(ValueError) as info:
        connect(websocket(echo_for_paths), path)
    assert str(info.value) == f"connect expected a path that starts with '/', got {path!r}"


async def echo_for_paths(scope, receiver):
    yield ws_send(f"{scope['path']!r} {scope['raw_path']!r} {scope['query_string']!r}")


@pytest.mark.parametrize(
    ("path", "seen"),
    [
        ("/rooms/0\r", "'/rooms/0\\r' b'/rooms/0\\r' b''"),
        ("/a\tb?x=1", "'/a\\tb' b'/a\\tb' b'x=1'"),
        ("/ lead", "'/ lead' b'/ lead' b''"),
        ("/trail ", "'/trail ' b'/trail ' b''"),
        ("/caf%C3%A9?q= 1", "'/café' b'/caf%C3%A9' b'q= 1'"),
    ],
)
async def test_the_path_reaches_the_app_as_given(path, seen):
    async with connect(websocket(echo_for_paths), path) as ws:
        assert await ws.receive() == seen


async def test_text_and_bytes_helpers_and_wait_closed():
    @websocket
    async def both(scope, receiver):
        yield ws_send("t")
        yield ws_send(b"b")

    async with connect(both) as ws:
        assert await ws.receive_text() == "t"
        assert await ws.receive_bytes() == b"b"
        assert await ws.wait_closed() == 1000
        with pytest.raises(AppClosed):
            await ws.send("after the close")


async def test_scope_carries_path_query_headers_and_subprotocols():
    seen = {}

    @websocket
    async def inspect(scope, receiver):
        seen.update(scope)
        yield ws_send("ok")

    async with connect(
        inspect,
        "/rooms/7?user=ann&user=bob",
        headers={"Origin": "https://a.example"},
        subprotocols=["chat"],
    ) as ws:
        await ws.receive()
    assert seen["path"] == "/rooms/7"
    assert seen["query_string"] == b"user=ann&user=bob"
    assert (b"origin", b"https://a.example") in seen["headers"]
    assert seen["subprotocols"] == ["chat"]


async def test_the_path_is_decoded_and_raw_path_kept_as_sent():
    seen = {}

    @websocket
    async def inspect(scope, receiver):
        seen.update(scope)
        yield ws_send("ok")

    async with connect(inspect, "/rooms/a%20b?x=%20") as ws:
        await ws.receive()
    assert (seen["path"], seen["raw_path"], seen["query_string"]) == (
        "/rooms/a b",
        b"/rooms/a%20b",
        b"x=%20",
    )
