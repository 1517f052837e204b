"""wrap_resource: one context manager per connection, in the scope, exited exactly once
whatever ends the connection, and before on_close."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest

from shallot_ws import ConfigError, ConfigTypeError, websocket, ws_close, ws_send
from shallot_ws.middlewares import as_context_factory, wrap_resource
from shallot_ws.testing import AppClosed, connect, virtual_time


class Session:
    """A stand-in for a DB session: records its life in ``trail``."""

    def __init__(self, trail: list[str], name: str = "session") -> None:
        self.trail = trail
        self.name = name

    async def __aenter__(self) -> Session:
        await asyncio.sleep(0)
        self.trail.append("enter")
        return self

    async def __aexit__(self, kind, exc, tb) -> None:
        await asyncio.sleep(0)  # an exit that awaits, as a real one does
        self.trail.append(f"exit {kind.__name__ if kind else None}")


def app_with(handler, trail: list[str], **options):
    async def on_disconnect(scope):
        trail.append("on_disconnect")

    async def on_close(scope):
        trail.append(f"on_close, db in scope: {'db' in scope}")

    middleware = wrap_resource("db", lambda scope: Session(trail))
    return websocket(on_disconnect=on_disconnect, on_close=on_close, **options)(middleware(handler))


# -- as_context_factory, without an event loop ---------------------------------------------


def test_as_context_factory_takes_a_factory_or_an_async_generator_function():
    def factory(scope):
        return Session([])

    assert as_context_factory(factory) is factory

    async def opener(scope):
        yield "resource"

    manager = as_context_factory(opener)({})
    assert hasattr(manager, "__aenter__") and hasattr(manager, "__aexit__")


@pytest.mark.parametrize(
    ("args", "error", "text"),
    [
        (
            (5, lambda scope: None),
            ConfigTypeError,
            "wrap_resource expected a non-empty str key, got 5",
        ),
        (
            ("", lambda scope: None),
            ConfigError,
            "wrap_resource expected a non-empty str key, got ''",
        ),
        (
            ("db", "not callable"),
            ConfigTypeError,
            "wrap_resource expected a factory taking scope, got str",
        ),
    ],
)
def test_configuration_is_checked_at_once(args, error, text):
    with pytest.raises(error) as info:
        wrap_resource(*args)
    assert type(info.value) is error
    assert str(info.value) == text


# -- the middleware, through the in-memory client ------------------------------------------


async def test_the_resource_is_in_the_scope_while_the_handler_runs():
    trail: list[str] = []

    async def handler(scope, receiver):
        trail.append(f"handler sees {scope['db'].name}")
        async for message in receiver:
            yield ws_send(f"{scope['db'].name}: {message}")

    async with connect(app_with(handler, trail)) as ws:
        await ws.send("hi")
        assert await ws.receive() == "session: hi"
    assert trail == [
        "enter",
        "handler sees session",
        "exit None",
        "on_disconnect",
        "on_close, db in scope: False",
    ]


async def test_the_handler_finishing_exits_cleanly():
    trail: list[str] = []

    async def handler(scope, receiver):
        yield ws_send("hello")

    async with connect(app_with(handler, trail)) as ws:
        assert await ws.receive() == "hello"
        assert await ws.wait_closed() == 1000
    assert trail == ["enter", "exit None", "on_close, db in scope: False"]


async def test_a_yielded_close_exits_cleanly_after_the_handler_finally():
    trail: list[str] = []

    async def handler(scope, receiver):
        try:
            yield ws_close(4001, "done")
        finally:
            trail.append("handler finally")

    async with connect(app_with(handler, trail)) as ws:
        assert await ws.wait_closed() == 4001
    assert trail == ["enter", "handler finally", "exit None", "on_close, db in scope: False"]


async def test_a_raising_handler_exits_with_its_exception(caplog):
    trail: list[str] = []

    async def handler(scope, receiver):
        yield ws_send("first")
        raise KeyError("boom")

    async with connect(app_with(handler, trail), raise_app_exceptions=False) as ws:
        assert await ws.receive() == "first"
        assert await ws.wait_closed() == 1011
    assert trail == ["enter", "exit KeyError", "on_close, db in scope: False"]
    assert [type(e) for e in ws.app_exceptions] == [KeyError]


async def test_a_stream_closed_at_its_yield_when_the_client_left_exits_cleanly(no_leaked_tasks):
    trail: list[str] = []

    async def ticker(scope, receiver):
        while True:
            yield ws_send("tick")
            await asyncio.sleep(0.005)

    async with virtual_time(), connect(app_with(ticker, trail)) as ws:  # ticks before the drain
        assert await ws.receive() == "tick"
        await ws.close()
    assert trail == ["enter", "exit None", "on_disconnect", "on_close, db in scope: False"]
    no_leaked_tasks()


async def test_a_blocked_handler_cancelled_after_the_client_left_exits_with_the_cancellation(
    no_leaked_tasks,
):
    trail: list[str] = []

    async def feed(scope, receiver):
        yield ws_send("ready")
        await asyncio.Event().wait()

    async with connect(app_with(feed, trail, drain_timeout=0.02)) as ws:
        assert await ws.receive() == "ready"
        await ws.close()
    assert trail == [
        "enter",
        "exit CancelledError",
        "on_disconnect",
        "on_close, db in scope: False",
    ]
    no_leaked_tasks()


async def test_a_server_shutdown_exits_with_the_cancellation():
    trail: list[str] = []

    async def stream(scope, receiver):
        while True:
            yield ws_send("x")
            await asyncio.sleep(0.005)

    events: asyncio.Queue[dict] = asyncio.Queue()
    events.put_nowait({"type": "websocket.connect"})
    streaming = asyncio.Event()

    async def send(message):
        if message["type"] == "websocket.send":
            streaming.set()

    task = asyncio.create_task(app_with(stream, trail)({"type": "websocket"}, events.get, send))
    await streaming.wait()  # the stream sent its first frame and sleeps till the next
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert trail == ["enter", "exit CancelledError", "on_close, db in scope: False"]


async def test_an_async_generator_function_is_a_factory_too():
    trail: list[str] = []

    async def open_subscription(scope):
        trail.append(f"subscribe {scope['path']}")
        try:
            yield ["news"]
        finally:
            trail.append("unsubscribe")

    @websocket
    @wrap_resource("topics", open_subscription)
    async def handler(scope, receiver):
        yield ws_send(",".join(scope["topics"]))

    async with connect(handler, "/feed") as ws:
        assert await ws.receive() == "news"
        assert await ws.wait_closed() == 1000
    assert trail == ["subscribe /feed", "unsubscribe"]


async def test_a_failed_open_never_starts_the_handler(caplog):
    ran: list[str] = []

    @asynccontextmanager
    async def broken(scope):
        raise ConnectionRefusedError("database down")
        yield  # pragma: no cover

    @websocket
    @wrap_resource("db", broken)
    async def handler(scope, receiver):
        ran.append("handler")
        yield ws_send("never")

    async with connect(handler, raise_app_exceptions=False) as ws:
        assert await ws.wait_closed() == 1011
    assert ran == []
    assert [type(e) for e in ws.app_exceptions] == [ConnectionRefusedError]


async def test_a_factory_that_returns_no_context_manager_is_a_clear_error():
    def factory(scope):
        return {"not": "a context manager"}

    @websocket
    @wrap_resource("db", factory)
    async def handler(scope, receiver):
        yield ws_send("never")

    async with connect(handler, raise_app_exceptions=False) as ws:
        with pytest.raises(AppClosed):
            await ws.receive()
    (error,) = ws.app_exceptions
    assert str(error) == (
        "wrap_resource expected factory test_a_factory_that_returns_no_context_manager_is_a_"
        "clear_error.<locals>.factory to return an async context manager, got dict"
    )


async def test_an_earlier_value_under_the_key_is_restored():
    seen: list[object] = []

    async def on_close(scope):
        seen.append(scope["db"])

    @websocket(on_close=on_close)
    @wrap_resource("db", lambda scope: Session([], "inner"))
    async def handler(scope, receiver):
        seen.append(scope["db"].name)
        yield ws_send("ok")

    async with connect(handler, scope={"db": "outer"}) as ws:
        assert await ws.receive() == "ok"
    assert seen == ["inner", "outer"]


async def test_a_context_manager_that_suppresses_the_error_ends_the_connection_normally():
    class Forgiving(Session):
        async def __aexit__(self, kind, exc, tb) -> bool:
            await super().__aexit__(kind, exc, tb)
            return True

    trail: list[str] = []

    @websocket
    @wrap_resource("db", lambda scope: Forgiving(trail))
    async def handler(scope, receiver):
        yield ws_send("first")
        raise ValueError("rolled back")

    async with connect(handler) as ws:
        assert await ws.receive() == "first"
        assert await ws.wait_closed() == 1000
    assert trail == ["enter", "exit ValueError"]


async def test_a_cancellation_propagates_even_if_the_context_manager_suppresses_errors():
    class Forgiving(Session):
        async def __aexit__(self, kind, exc, tb) -> bool:
            await super().__aexit__(kind, exc, tb)
            return True

    trail: list[str] = []

    @websocket
    @wrap_resource("db", lambda scope: Forgiving(trail))
    async def stream(scope, receiver):
        while True:
            yield ws_send("x")
            await asyncio.sleep(0.005)

    events: asyncio.Queue[dict] = asyncio.Queue()
    events.put_nowait({"type": "websocket.connect"})
    sent: list[dict] = []
    streaming = asyncio.Event()

    async def send(message):
        sent.append(message)
        if message["type"] == "websocket.send":
            streaming.set()

    task = asyncio.create_task(stream({"type": "websocket"}, events.get, send))
    await streaming.wait()  # the stream sent its first frame and sleeps till the next
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert trail == ["enter", "exit CancelledError"]
    assert sent[-1] == {"type": "websocket.close", "code": 1012, "reason": "service restart"}
