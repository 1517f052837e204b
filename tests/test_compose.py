"""Composition: middlewares are handler -> handler, applied outermost first, closing promptly."""

from __future__ import annotations

import asyncio

import pytest

from shallot_ws import (
    ConfigTypeError,
    InvalidHandler,
    MappedReceiver,
    WebSocketApp,
    compose,
    relay,
    websocket,
    ws_close,
    ws_send,
)
from shallot_ws.errors import WSDisconnect
from shallot_ws.middlewares import wrap_limits
from shallot_ws.testing import AppClosed, connect, virtual_time
from shallot_ws.types import FrameSource


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
            await asyncio.Event().wait()

    app = websocket(drain_timeout=0.02)(compose(tag("m", trail))(ticker))
    async with virtual_time() as clock, connect(app) as ws:
        assert await ws.receive() == "tick<m"
        await ws.close()
        assert clock.now() == 0.02  # cancelled where it waits after the drain time
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


class _Source:
    """A FrameSource of one's own: two frames, counters set by the test."""

    def __init__(self) -> None:
        self.frames = ["x", "y"]
        self.buffered = 2
        self.dropped = 7
        self.disconnected: WSDisconnect | None = None
        self.arrived_at: float | None = 12.5

    async def __aiter__(self):
        while self.frames:
            yield await self.receive()

    async def receive(self) -> str:
        if not self.frames:
            self.disconnected = WSDisconnect(1000, "")
            raise self.disconnected
        return self.frames.pop(0)


async def test_mapped_receiver_reports_what_the_receiver_it_maps_reports():
    source = _Source()
    frames = MappedReceiver(source, str.upper)
    assert (frames.buffered, frames.dropped, frames.arrived_at) == (2, 7, 12.5)
    source.dropped, source.arrived_at = 9, None
    assert (frames.dropped, frames.arrived_at, frames.disconnected) == (9, None, None)
    assert [frame async for frame in frames] == ["X", "Y"]
    with pytest.raises(WSDisconnect):
        await frames.receive()
    assert frames.disconnected is source.disconnected
    assert repr(MappedReceiver(frames, str.lower)).startswith("<MappedReceiver of <MappedReceiver")


async def test_every_handler_facing_receiver_is_a_frame_source():
    seen: list[tuple[str, bool]] = []

    def probe(handler):
        async def wrapped(scope, receiver):
            seen.append((type(receiver).__name__, isinstance(receiver, FrameSource)))
            async with relay(handler, scope, receiver) as messages:
                async for message in messages:
                    yield message

        return wrapped

    async def handler(scope, receiver):
        seen.append((type(receiver).__name__, isinstance(receiver, FrameSource)))
        yield ws_send("ok")

    app = websocket(
        compose(
            probe,  # sees the driver's Receiver
            tag("m", []),
            probe,  # sees tag's MappedReceiver
            wrap_limits(max_frame_size=10),
        )(handler)
    )
    async with connect(app) as ws:
        assert await ws.receive() == "ok<m"
    assert seen == [
        ("Receiver", True),
        ("MappedReceiver", True),
        ("_LimitedReceiver", True),
    ]
    assert not isinstance(object(), FrameSource)
    assert isinstance(_Source(), FrameSource)


async def test_mapped_receiver_dropped_is_the_receivers_count():
    seen: list[tuple[int, int]] = []

    @websocket(max_buffered=2, stall_timeout=1.0)
    async def deaf(scope, receiver):
        frames = MappedReceiver(receiver, str.upper)
        yield ws_send("ready")
        await asyncio.sleep(10)  # never asked: the stall drops frames 2..5
        seen.append((receiver.dropped, frames.dropped))
        yield ws_send(await frames.receive())

    async with virtual_time(), connect(deaf, queue_size=2) as ws:
        assert await ws.receive() == "ready"
        for index in range(6):
            await ws.send(str(index))
        assert await ws.receive(timeout=20) == "0"
    assert seen == [(4, 4)]


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


FACTORIES = ["wrap_errors", "wrap_idle_timeout", "wrap_limits", "wrap_resource"]


@pytest.mark.parametrize("name", FACTORIES)
def test_a_middleware_factory_given_without_its_call_is_named(name):
    import shallot_ws

    factory = getattr(shallot_ws, name)
    with pytest.raises(ConfigTypeError) as info:
        compose(factory)(echo)
    assert str(info.value) == (
        f"compose expected middlewares (handler -> handler), got the middleware factory "
        f"{name}: call `{name}(...)` first"
    )


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("target", ["function", "app"])
def test_a_middleware_factory_applied_to_a_handler_says_to_call_it_first(name, target):
    import shallot_ws

    factory = getattr(shallot_ws, name)
    handler = echo if target == "function" else websocket(echo)
    with pytest.raises(ConfigTypeError) as info:
        factory(handler)
    assert str(info.value) == (
        f"{name} expected its options, got the handler echo: "
        f"call `{name}(...)` first, then apply its result to the handler"
    )


def test_the_middlewares_that_take_a_handler_directly_still_do():
    import shallot_ws

    for name in ("wrap_json", "wrap_logging"):
        middleware = getattr(shallot_ws, name)
        assert isinstance(compose(middleware)(echo), type(echo))


async def test_a_filtered_receiver_skips_what_its_transform_answers_skip():
    from shallot_ws.compose import SKIP, FilteredReceiver

    @websocket
    async def odd_only(scope, receiver):
        numbers = FilteredReceiver(receiver, lambda f: SKIP if int(f) % 2 == 0 else int(f))
        yield ws_send(str(await numbers.receive()))
        async for number in numbers:
            yield ws_send(str(number))

    async with connect(odd_only) as ws:
        for frame in ("2", "3", "4", "6", "5"):
            await ws.send(frame)
        assert [await ws.receive(), await ws.receive()] == ["3", "5"]
    assert repr(SKIP) == "SKIP"
