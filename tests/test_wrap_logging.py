"""wrap_logging: one line at open, one at close with the connection's figures and close code."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shallot_ws import ConfigTypeError, WSDisconnect, compose, websocket, ws_close, ws_send
from shallot_ws.middlewares import (
    client_text,
    close_code,
    wrap_errors,
    wrap_json,
    wrap_limits,
    wrap_logging,
)
from shallot_ws.testing import connect, virtual_time

ACCESS = "shallot_ws.access"
FIELDS = ("path", "client", "duration", "frames_in", "messages_out", "close_code")

# -- client_text and close_code, without an event loop -------------------------------------


@pytest.mark.parametrize(
    ("client", "text"),
    [
        (("127.0.0.1", 50000), "127.0.0.1:50000"),
        (["10.0.0.1", 80], "10.0.0.1:80"),
        (("::1", 8000), "[::1]:8000"),
        (None, "-"),
        ((), "-"),
        ("unix-socket", "unix-socket"),
    ],
)
def test_client_text(client, text):
    assert client_text(client) == text


def test_close_code_takes_the_first_that_applies():
    left = WSDisconnect(4002)
    assert close_code() == 1000
    assert close_code(closed=4001) == 4001
    assert close_code(closed=4001, disconnected=left, raised=True) == 4001
    assert close_code(disconnected=left, raised=True, cancelled=True) == 4002
    assert close_code(raised=True, cancelled=True) == 1011
    assert close_code(cancelled=True) == 1012


def test_configuration_is_checked_at_once():
    with pytest.raises(ConfigTypeError) as info:
        wrap_logging("shallot_ws")  # type: ignore[call-overload]
    assert str(info.value) == "wrap_logging expected a logging.Logger, got str"
    adapter = logging.LoggerAdapter(logging.getLogger("x"), {})
    with pytest.raises(ConfigTypeError) as info:
        wrap_logging(adapter)  # type: ignore[call-overload]
    assert str(info.value) == "wrap_logging expected a logging.Logger, got LoggerAdapter"
    with pytest.raises(ConfigTypeError) as info:
        wrap_logging(None, "INFO")  # type: ignore[call-overload]
    assert str(info.value) == "wrap_logging expected an int level, got 'INFO'"


# -- the middleware, through the in-memory client ------------------------------------------


def lines(caplog, name: str = ACCESS) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == name]


def fields(record: logging.LogRecord) -> dict[str, object]:
    return {key: getattr(record, key) for key in FIELDS if hasattr(record, key)}


async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)
        yield ws_send(message)


async def test_one_line_at_open_and_one_at_close(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)
    app = websocket(wrap_logging(echo))
    async with (
        virtual_time(),
        connect(app, "/chat?token=secret", client=("10.1.2.3", 4321)) as ws,
    ):
        await ws.send("a")
        await ws.send("b")
        for _ in range(4):
            await ws.receive()
        await asyncio.sleep(0.25)  # virtual: wrap_logging measures with the loop's clock
        await ws.close(4002)
    opened, closed = lines(caplog)
    assert opened.levelno == closed.levelno == logging.INFO
    assert opened.getMessage() == "websocket open /chat from 10.1.2.3:4321"
    assert fields(opened) == {"path": "/chat", "client": "10.1.2.3:4321"}
    duration = closed.duration
    assert duration == 0.25
    assert fields(closed) == {
        "path": "/chat",
        "client": "10.1.2.3:4321",
        "duration": duration,
        "frames_in": 2,
        "messages_out": 4,
        "close_code": 4002,
    }
    assert closed.getMessage() == (
        f"websocket closed /chat from 10.1.2.3:4321: code 4002 after {duration:.3f} s, "
        "2 frames in, 4 messages out"
    )
    assert all("secret" not in str(record.__dict__) for record in caplog.records)


async def test_a_finished_handler_logs_1000(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)

    @websocket
    @wrap_logging
    async def hello(scope, receiver):
        yield ws_send("hello")

    async with connect(hello) as ws:
        assert await ws.wait_closed() == 1000
    assert [fields(r).get("close_code") for r in lines(caplog)] == [None, 1000]
    assert lines(caplog)[1].messages_out == 1


async def test_a_yielded_close_logs_its_code(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)

    @websocket
    @wrap_logging
    async def closer(scope, receiver):
        yield ws_send("bye")
        yield ws_close(4001, "done")

    async with connect(closer) as ws:
        assert await ws.wait_closed() == 4001
    closed = lines(caplog)[1]
    assert (closed.close_code, closed.messages_out) == (4001, 1)


async def test_a_raising_handler_logs_1011_and_the_error_propagates(caplog):
    caplog.set_level(logging.INFO)

    @websocket
    @wrap_logging
    async def broken(scope, receiver):
        async for message in receiver:
            raise RuntimeError(message)
        yield ws_send("unreachable")

    async with connect(broken, raise_app_exceptions=False) as ws:
        await ws.send("boom")
        assert await ws.wait_closed() == 1011
    assert lines(caplog)[1].close_code == 1011
    assert lines(caplog)[1].frames_in == 1
    (error,) = lines(caplog, "shallot_ws")  # the driver's, once, with the traceback
    assert error.exc_info[0] is RuntimeError


async def test_a_blocked_handler_cancelled_after_the_client_left_logs_the_client_code(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)

    @websocket(drain_timeout=0.02)
    @wrap_logging
    async def blocked(scope, receiver):
        yield ws_send("ready")
        await asyncio.Event().wait()

    async with connect(blocked) as ws:
        assert await ws.receive() == "ready"
        await ws.close(4003)
    assert lines(caplog)[1].close_code == 4003


async def test_a_server_shutdown_logs_1012(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)

    @websocket
    @wrap_logging
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

    task = asyncio.create_task(stream({"type": "websocket", "path": "/s"}, events.get, send))
    await streaming.wait()  # the stream sent its first frame and sleeps till the next
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _, closed = lines(caplog)
    assert closed.close_code == 1012 and closed.client == "-"


async def test_a_custom_logger_and_level(caplog):
    logger = logging.getLogger("myapp.sockets")
    caplog.set_level(logging.DEBUG, logger="myapp.sockets")
    app = websocket(wrap_logging(logger, logging.DEBUG)(echo))
    async with connect(app) as ws:
        await ws.close()
    assert [r.levelno for r in lines(caplog, "myapp.sockets")] == [logging.DEBUG] * 2
    assert lines(caplog) == []


async def test_outermost_it_sees_the_closes_of_the_other_middlewares(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)

    async def handler(scope, receiver):
        async for value in receiver:
            if value < 0:
                raise ValueError("negative")
            yield {"double": 2 * value}

    stack = compose(
        wrap_logging,
        wrap_errors({ValueError: (4000, "bad value")}),
        wrap_limits(max_frame_size=16),
        wrap_json,
    )
    app = websocket(stack(handler))
    for frames, code in (
        (["2", "-1"], 4000),
        (["2", "[" * 20], 1009),
        (["2", "{"], 1007),
    ):
        async with connect(app) as ws:
            for frame in frames:
                await ws.send(frame)
            assert await ws.receive() == '{"double": 4}'
            assert await ws.wait_closed() == code
        closed = lines(caplog)[-1]
        assert (closed.close_code, closed.frames_in, closed.messages_out) == (code, 2, 1)
