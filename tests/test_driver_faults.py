"""Lifecycle faults found under real servers, each pinned in memory against a fake server
(docs/design.md §2, the guarantees): what the server does is scripted exactly."""

from __future__ import annotations

import asyncio
import logging

from shallot_ws import WSDisconnect, websocket, ws_send


class FakeServer:
    """A scripted ASGI server for one connection: ``events`` are what ``receive()`` returns
    in order (then it waits for ever, or for ``more``), ``send`` records and may raise."""

    def __init__(self, events, *, send_error=None, send_error_after=0):
        self.events = list(events)
        self.more: asyncio.Queue = asyncio.Queue()
        self.sent: list[dict] = []
        self.send_error = send_error
        self.send_error_after = send_error_after

    async def receive(self):
        if self.events:
            return self.events.pop(0)
        return await self.more.get()

    async def send(self, message):
        self.sent.append(message)
        if self.send_error is not None and len(self.sent) > self.send_error_after:
            raise self.send_error


SCOPE = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}


def hooks(calls):
    def hook(name):
        async def run(scope):
            calls.append(name)

        return run

    return {"on_disconnect": hook("on_disconnect"), "on_close": hook("on_close")}


async def test_a_failed_send_is_a_disconnect_with_1006():
    # uvicorn / ASGI 2.4: the server's send raises OSError once the client is gone, and its
    # disconnect event may never come (the scripted receive waits for ever after connect).
    calls: list[str] = []
    seen: list[object] = []

    @websocket(**hooks(calls))
    async def stream(scope, receiver):
        try:
            for n in range(1000):
                yield ws_send(str(n))
        finally:
            seen.append(receiver.disconnected)

    server = FakeServer(
        [{"type": "websocket.connect"}], send_error=OSError("gone"), send_error_after=2
    )
    await asyncio.wait_for(stream(dict(SCOPE), server.receive, server.send), 5)
    [disconnect] = seen
    assert isinstance(disconnect, WSDisconnect)
    assert (disconnect.code, disconnect.reason) == (1006, "")
    assert calls == ["on_disconnect", "on_close"]
    types = [m["type"] for m in server.sent]
    assert types == ["websocket.accept", "websocket.send", "websocket.send"]  # nothing after


async def test_a_refused_error_close_is_logged_at_warning_once(caplog):
    @websocket
    async def failing(scope, receiver):
        raise ValueError("boom")
        yield  # pragma: no cover

    class Refusing(FakeServer):
        async def send(self, message):
            self.sent.append(message)
            if message["type"] == "websocket.close":
                raise RuntimeError("the server refused the close")

    server = Refusing([{"type": "websocket.connect"}])
    with caplog.at_level(logging.DEBUG, logger="shallot_ws"):
        await asyncio.wait_for(failing(dict(SCOPE), server.receive, server.send), 5)
    refusals = [
        r
        for r in caplog.records
        if r.name == "shallot_ws" and "refused the close" in r.getMessage()
    ]
    assert len(refusals) == 1
    assert refusals[0].levelno == logging.WARNING
    assert refusals[0].getMessage() == (
        "the server refused the 1011 close of handler "
        "test_a_refused_error_close_is_logged_at_warning_once.<locals>.failing "
        "(RuntimeError: the server refused the close)"
    )
