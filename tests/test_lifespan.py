"""``lifespan=`` on the websocket app and the router, driven through the ASGI lifespan protocol
in memory: order against the events, failure texts and logs, build-time checks, ``replace``.
(Real servers: tests/test_server_lifespan.py.)"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from shallot_ws import InvalidHandler, RouteError, router, websocket, ws_send
from shallot_ws.routing import mount, route
from shallot_ws.testing import connect

STARTUP = {"type": "lifespan.startup"}
SHUTDOWN = {"type": "lifespan.shutdown"}


async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


def recording(log: list[str], *, fail_at: str | None = None):
    """A lifespan that appends its steps to ``log``; raises at ``fail_at``."""

    @contextlib.asynccontextmanager
    async def open_things(app):
        log.append(f"enter {type(app).__name__}")
        if fail_at == "startup":
            raise ConnectionError("broker down")
        yield
        log.append("exit")
        if fail_at == "shutdown":
            raise RuntimeError("flush failed")

    return open_things


async def drive(app, log: list[str], events=(STARTUP, SHUTDOWN)) -> list[dict]:
    """Run the lifespan scope; each event received and each message sent goes into ``log``."""
    pending = list(events)
    sent: list[dict] = []

    async def receive():
        event = pending.pop(0)
        log.append(event["type"])
        return event

    async def send(message):
        log.append(message["type"])
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


# -- the websocket app ----------------------------------------------------------------------


async def test_app_lifespan_is_entered_at_startup_and_exited_at_shutdown():
    log: list[str] = []
    app = websocket(lifespan=recording(log))(echo)
    await drive(app, log)
    assert log == [
        "lifespan.startup",
        "enter WebSocketApp",
        "lifespan.startup.complete",
        "lifespan.shutdown",
        "exit",
        "lifespan.shutdown.complete",
    ]


async def test_the_lifespan_gets_the_app_itself():
    seen = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        seen.append(app)
        yield

    app = websocket(lifespan=lifespan)(echo)
    await drive(app, [])
    assert seen == [app]


async def test_a_startup_failure_is_reported_to_the_server_and_logged(caplog):
    log: list[str] = []
    app = websocket(lifespan=recording(log, fail_at="startup"))(echo)
    sent = await drive(app, log)
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "lifespan recording.<locals>.open_things failed at startup: "
            "ConnectionError('broker down')",
        }
    ]
    assert log == ["lifespan.startup", "enter WebSocketApp", "lifespan.startup.failed"]
    (record,) = [r for r in caplog.records if r.name == "shallot_ws"]
    assert record.levelname == "ERROR"
    assert record.getMessage() == sent[0]["message"]
    assert isinstance(record.exc_info[1], ConnectionError)


async def test_a_shutdown_failure_is_reported_to_the_server_and_logged(caplog):
    log: list[str] = []
    app = websocket(lifespan=recording(log, fail_at="shutdown"))(echo)
    sent = await drive(app, log)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert sent[1]["message"] == (
        "lifespan recording.<locals>.open_things failed at shutdown: RuntimeError('flush failed')"
    )
    (record,) = [r for r in caplog.records if r.name == "shallot_ws"]
    assert record.getMessage() == sent[1]["message"]
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


def not_a_manager(app):
    return 42


async def test_a_factory_that_returns_no_context_manager_fails_the_startup(caplog):
    sent = await drive(websocket(lifespan=not_a_manager)(echo), [])
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "lifespan not_a_manager failed at startup: InvalidHandler('lifespan(app) "
            "expected an async context manager, got 42')",
        }
    ]


async def test_without_a_lifespan_startup_and_shutdown_complete_with_nothing_run():
    log: list[str] = []
    await drive(websocket(echo), log)
    assert log == [
        "lifespan.startup",
        "lifespan.startup.complete",
        "lifespan.shutdown",
        "lifespan.shutdown.complete",
    ]


async def test_replace_carries_the_lifespan_and_can_change_it():
    log: list[str] = []
    first, second = recording(log), recording(log)
    app = websocket(lifespan=first)(echo)
    assert app.replace(max_buffered=4).lifespan is first
    assert app.replace(lifespan=second).lifespan is second
    assert app.replace(lifespan=None).lifespan is None
    await drive(app.replace(max_buffered=4), log)
    assert log[1] == "enter WebSocketApp"


async def test_connections_are_served_as_before_with_a_lifespan():
    app = websocket(lifespan=recording([]))(echo)
    async with connect(app) as ws:
        await ws.send("hi")
        assert await ws.receive() == "hi"


@pytest.mark.parametrize(
    ("lifespan", "error"),
    [
        (
            42,
            "websocket app echo expected lifespan as an async context manager factory, got 42",
        ),
        (
            echo,
            "websocket app echo expected lifespan as an async context manager factory, got "
            "the async generator function echo: decorate it with @contextlib.asynccontextmanager",
        ),
        (
            lambda: None,
            "lifespan <lambda> must take (app), its signature is ()",
        ),
    ],
)
def test_a_lifespan_that_is_not_one_is_refused_at_build_time(lifespan, error):
    with pytest.raises(InvalidHandler) as info:
        websocket(lifespan=lifespan)(echo)
    assert str(info.value) == error


# -- the router -----------------------------------------------------------------------------


async def test_router_lifespan_is_entered_at_startup_and_exited_at_shutdown():
    log: list[str] = []
    app = router([("/echo", echo)], lifespan=recording(log))
    await drive(app, log)
    assert log == [
        "lifespan.startup",
        "enter Router",
        "lifespan.startup.complete",
        "lifespan.shutdown",
        "exit",
        "lifespan.shutdown.complete",
    ]


async def test_router_startup_failure_is_reported(caplog):
    sent = await drive(router([("/echo", echo)], lifespan=recording([], fail_at="startup")), [])
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "lifespan recording.<locals>.open_things failed at startup: "
            "ConnectionError('broker down')",
        }
    ]
    assert [r.levelname for r in caplog.records if r.name == "shallot_ws"] == ["ERROR"]


async def test_with_a_lifespan_the_fallback_serves_http_only():
    log: list[str] = []
    seen = []

    async def fallback(scope, receive, send):
        seen.append(scope["type"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = router([("/echo", echo)], fallback=fallback, lifespan=recording(log))
    await drive(app, log)
    assert "enter Router" in log and seen == []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    sent = []

    async def send(message):
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": "/"}, receive, send)
    assert seen == ["http"] and sent[0]["status"] == 204


def test_router_refuses_a_lifespan_that_is_not_one():
    with pytest.raises(InvalidHandler) as info:
        router([], lifespan="setup")
    assert str(info.value) == (
        "router expected lifespan as an async context manager factory, got 'setup'"
    )


def test_a_routed_app_with_a_lifespan_is_refused():
    app = websocket(lifespan=recording([]))(echo)
    with pytest.raises(RouteError) as info:
        router([("/echo", app)])
    assert str(info.value) == (
        "route '/echo': the app's lifespan never runs under a router (give lifespan= to the router)"
    )


def test_a_mounted_router_with_a_lifespan_is_refused():
    sub = router([("/echo", echo)], lifespan=recording([]))
    with pytest.raises(RouteError) as info:
        router([mount("/api", sub)])
    assert str(info.value) == (
        "mount '/api': a mounted router's lifespan never runs (give it to the outermost router)"
    )
    with pytest.raises(RouteError):
        router([route("/api", sub)])


async def test_the_lifespan_shutdown_closes_the_connections_the_server_left_open():
    # granian's shutdown runs the lifespan shutdown without cancelling the open connections
    # (their hooks would never run): the app closes them itself, with its shutdown close,
    # and their finally blocks and hooks run before the shutdown completes.
    from tests.test_driver_faults import SCOPE, FakeServer

    calls: list[str] = []
    waiting = asyncio.Event()

    async def on_close(scope):
        calls.append("on_close")

    @websocket(on_close=on_close)
    async def patient(scope, receiver):
        try:
            waiting.set()
            await asyncio.Event().wait()
            yield ws_send("never")
        finally:
            calls.append("finally")

    server = FakeServer([{"type": "websocket.connect"}])
    connection = asyncio.ensure_future(patient(dict(SCOPE), server.receive, server.send))
    await waiting.wait()
    events = asyncio.Queue()
    answers: list[dict] = []

    async def send(message):
        answers.append(message)

    for event in ({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}):
        events.put_nowait(event)
    await patient({"type": "lifespan"}, events.get, send)
    assert [a["type"] for a in answers] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert server.sent[-1] == {"type": "websocket.close", "code": 1012, "reason": "service restart"}
    assert calls == ["finally", "on_close"]
    assert connection.done() and not connection.cancelled() and connection.exception() is None
