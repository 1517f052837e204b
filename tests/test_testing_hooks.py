"""record_hooks: which hooks ran, in order, around the app's own."""

from __future__ import annotations

from shallot_ws import websocket, ws_send
from shallot_ws.testing import connect
from shallot_ws.testing.hooks import record_hooks


async def test_hooks_are_recorded_in_order_and_the_originals_still_run():
    own: list[str] = []

    async def on_close(scope):
        own.append("mine")

    @websocket(on_close=on_close)
    async def hello(scope, receiver):
        yield ws_send("hi")

    app, calls = record_hooks(hello)
    async with connect(app) as ws:
        assert await ws.receive() == "hi"
    assert calls == ["on_connect", "on_close"] and own == ["mine"]


async def test_a_client_that_leaves_records_on_disconnect_before_on_close():
    @websocket
    async def echo(scope, receiver):
        async for message in receiver:
            yield ws_send(message)

    app, calls = record_hooks(echo)
    async with connect(app) as ws:
        await ws.close()
    assert calls == ["on_connect", "on_disconnect", "on_close"]
