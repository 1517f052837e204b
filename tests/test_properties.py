"""Properties of every message flow, checked with hypothesis through the in-memory client.

Each test states in its docstring the invariant it checks.
"""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from shallot_ws import websocket, ws_close, ws_send
from shallot_ws.testing import AppClosed, connect
from shallot_ws.testing.strategies import close_codes, frames


@websocket
async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


def run(coroutine):
    return asyncio.run(coroutine)


@given(st.lists(frames(), max_size=12))
def test_echo_is_identity(sent):
    """Echo returns every frame, text as str and binary as bytes, in order."""

    async def flow():
        async with connect(echo) as ws:
            for frame in sent:
                await ws.send(frame)
            return [await ws.receive() for _ in sent]

    assert run(flow()) == sent


BEHAVIOURS = st.sampled_from(["echo", "finish", "close", "raise", "stream", "ignore"])


def make_app(behaviour, after, code, calls):
    async def on_disconnect(scope):
        calls.append("on_disconnect")

    async def on_close(scope):
        calls.append("on_close")

    @websocket(on_disconnect=on_disconnect, on_close=on_close, drain_timeout=0.02)
    async def handler(scope, receiver):
        count = 0
        if behaviour == "stream":
            while True:
                yield ws_send(f"s{count}")
                count += 1
                await asyncio.sleep(0.001)
        if behaviour == "ignore":
            await asyncio.sleep(3600)
        async for message in receiver:
            count += 1
            if count > after:
                if behaviour == "finish":
                    return
                if behaviour == "close":
                    yield ws_close(code, "bye")
                if behaviour == "raise":
                    raise RuntimeError("boom")
            yield ws_send(message)

    return handler


@given(
    behaviour=BEHAVIOURS,
    after=st.integers(0, 4),
    code=close_codes(),
    flow=st.lists(frames(large=False), max_size=8),
    leave_after=st.integers(0, 8),
    leave_code=close_codes(),
)
def test_exactly_one_close_or_disconnect_ends_every_flow(
    behaviour, after, code, flow, leave_after, leave_code
):
    """Whatever the handler does and whenever the client leaves, the app sends at most one
    close, nothing after it, and either it closed or the client left: never both, never none.
    on_close runs exactly once, on_disconnect only if the client left first, before on_close."""
    calls: list[str] = []
    app = make_app(behaviour, after, code, calls)

    async def scenario():
        async with connect(app, raise_app_exceptions=False, timeout=3) as ws:
            for index, frame in enumerate(flow):
                if index == leave_after:
                    break
                try:
                    await ws.send(frame)
                except AppClosed:
                    break
            if ws.state == "open":
                await ws.close(leave_code)
        return ws

    ws = run(scenario())
    types = [message["type"] for message in ws.sent]
    closes = types.count("websocket.close")
    client_left_first = closes == 0
    assert closes <= 1
    if closes:
        assert types[-1] == "websocket.close"  # nothing after the close
    assert types[0] == "websocket.accept"
    assert calls.count("on_close") == 1 and calls[-1] == "on_close"
    assert calls.count("on_disconnect") == (1 if client_left_first else 0)
    assert ws.finished and not ws.violations


@given(st.lists(frames(large=False), max_size=20), st.integers(1, 6))
def test_a_storing_handler_stores_everything_sent_before_the_client_left(sent, max_buffered):
    """Every frame that arrived before the disconnect reaches a handler that keeps reading."""
    stored: list[object] = []

    @websocket(max_buffered=max_buffered)
    async def store(scope, receiver):
        async for message in receiver:
            await asyncio.sleep(0)
            stored.append(message)
            yield ws_send("ack")

    async def flow():
        async with connect(store) as ws:
            for frame in sent:
                await ws.send(frame)
            await ws.close()

    run(flow())
    assert stored == sent
