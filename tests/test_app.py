"""The websocket decorator's app: ASGI 3, lifespan, 426 for HTTP, introspection."""

from __future__ import annotations

import inspect

import pytest

from shallot_ws import ProtocolError, WebSocketApp, websocket, ws_send
from shallot_ws.testing import connect


async def handler(scope, receiver):
    """Greets, then echoes."""
    yield ws_send("hi")


async def on_close(scope):
    return None


def test_bare_called_and_configured_forms():
    bare = websocket(handler)
    called = websocket()(handler)
    configured = websocket(on_close=on_close, max_buffered=4, drain_timeout=0.25)(handler)
    for app in (bare, called, configured):
        assert isinstance(app, WebSocketApp)
        assert app.handler is handler
        assert app.__name__ == "handler" and app.__doc__ == "Greets, then echoes."
        assert not hasattr(app, "__wrapped__")  # its signature stays ASGI's, for frameworks
        assert list(inspect.signature(app).parameters) == ["scope", "receive", "send"]
    assert configured.on_close is on_close and configured.on_connect is None
    assert (configured.max_buffered, configured.drain_timeout) == (4, 0.25)
    assert (bare.max_buffered, bare.drain_timeout) == (16, 0.5)
    assert repr(bare) == "<WebSocketApp handler>"


async def test_it_is_an_asgi3_app_that_serves_websockets():
    async with connect(websocket(handler), "/any?x=1") as ws:
        assert await ws.receive() == "hi"
        assert ws.scope["query_string"] == b"x=1"


async def test_lifespan_startup_and_shutdown_complete():
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(events)

    async def send(message):
        sent.append(message)

    await websocket(handler)({"type": "lifespan"}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


async def test_plain_http_gets_426_upgrade_required():
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await websocket(handler)({"type": "http", "method": "GET", "path": "/"}, receive, send)
    start, body = sent
    assert start["status"] == 426
    assert (b"upgrade", b"websocket") in start["headers"]
    assert body["body"] == b"426 Upgrade Required: this endpoint speaks WebSocket\n"


async def test_any_other_scope_is_a_clear_error():
    async def receive():
        raise AssertionError

    with pytest.raises(ProtocolError) as info:
        await websocket(handler)({"type": "webtransport"}, receive, receive)
    assert str(info.value) == (
        "expected a 'websocket', 'http' or 'lifespan' scope, got 'webtransport'"
    )
