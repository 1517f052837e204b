"""Composition: middlewares are handler -> handler, applied outermost first, closing promptly."""

from __future__ import annotations

import asyncio

import pytest

from shallot_ws import (
    InvalidHandler,
    MappedReceiver,
    WebSocketApp,
    compose,
    relay,
    websocket,
    ws_close,
    ws_send,
)
from shallot_ws.testing import AppClosed, connect


def tag(name: str, trail: list[str]):
    """A middleware that marks frames in and messages out with its name."""

    def middleware(handler):
        async def wrapped(scope, receiver):
            trail.append(f"{name} open")
            frames = MappedReceiver(receiver, lambda frame: f"{frame}>{name}")
            try:
                async with relay(handler, scope, frames) as messages:
                    async for message in messages:
                        if "text" in message:
                            message = ws_send(f"{message['text']}<{name}")
                        yield message
            finally:
                trail.append(f"{name} closed")

        return wrapped

    return middleware


async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


async def test_the_first_middleware_is_outermost():
    trail: list[str] = []
    app = websocket(compose(tag("a", trail), tag("b", trail))(echo))
    async with connect(app) as ws:
        await ws.send("x")
        assert await ws.receive() == "x>a>b<b<a"
    assert trail == ["a open", "b open", "b closed", "a closed"]


async def test_a_yielded_close_closes_every_layer_at_once():
    trail: list[str] = []
    cleaned: list[str] = []

    async def closer(scope, receiver):
        try:
            yield ws_close(4000, "done")
        finally:
            cleaned.append("handler")

    app = websocket(compose(tag("outer", trail), tag("inner", trail))(closer))
    async with connect(app) as ws:
        with pytest.raises(AppClosed) as info:
            await ws.receive()
        # closed before the client even left: nothing waits for a finalizer
        assert cleaned == ["handler"]
        assert trail == ["outer open", "inner open", "inner closed", "outer closed"]
    assert info.value.code == 4000


async def test_a_stream_under_middlewares_stops_promptly_when_the_client_leaves(
    no_leaked_tasks,
):
    trail: list[str] = []

    async def ticker(scope, receiver):
        while True:
            yield ws_send("tick")
            await asyncio.sleep(3600)

    app = websocket(drain_timeout=0.02)(compose(tag("m", trail))(ticker))
    async with connect(app) as ws:
        assert await ws.receive() == "tick<m"
        await ws.close()
    assert trail == ["m open", "m closed"]
    no_leaked_tasks()


async def test_mapped_receiver_keeps_the_receiver_interface():
    seen: list[object] = []

    async def reader(scope, receiver):
        frames = MappedReceiver(receiver, str.upper)
        seen.append(await frames.receive())
        seen.append((frames.buffered, frames.disconnected))
        async for frame in frames:
            seen.append(frame)
        seen.append(frames.disconnected.code)
        yield ws_send("done")

    async with connect(websocket(reader)) as ws:
        await ws.send("a")
        await ws.send("b")
        await ws.close(4001)
    assert seen == ["A", (0, None), "B", 4001]


def test_compose_on_an_app_keeps_its_hooks_and_limits():
    async def on_close(scope):
        return None

    app = websocket(on_close=on_close, max_buffered=3, drain_timeout=0.1)(echo)
    wrapped = compose(tag("m", []))(app)
    assert isinstance(wrapped, WebSocketApp) and wrapped is not app
    assert wrapped.on_close is on_close
    assert (wrapped.max_buffered, wrapped.drain_timeout) == (3, 0.1)
    assert wrapped.handler is not echo


def test_compose_checks_what_it_is_given():
    with pytest.raises(InvalidHandler, match="^compose expected middlewares"):
        compose("not a middleware")  # type: ignore[arg-type]

    def broken(handler):
        return lambda scope, receiver: None  # not async

    with pytest.raises(InvalidHandler, match="must be an async generator function"):
        compose(broken)(echo)
    with pytest.raises(TypeError, match=r"^replace expected handler or \["):
        websocket(echo).replace(on_open=None)
