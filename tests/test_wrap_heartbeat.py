"""wrap_heartbeat: pings on a schedule, pongs taken out, a silent client closed in time."""

from __future__ import annotations

import asyncio
import json
import time

import msgspec
import pytest

from shallot_ws import (
    ConfigError,
    ConfigTypeError,
    InvalidMessage,
    compose,
    websocket,
    wrap_heartbeat,
    wrap_idle_timeout,
    wrap_json,
    ws_send,
)
from shallot_ws.contracts import contract
from shallot_ws.middlewares import is_json_pong
from shallot_ws.testing import AppClosed, connect, virtual_time
from tests.serving import server_fixture

PING = '{"type":"ping"}'
PONG = '{"type": "pong"}'


def echo_app(*middlewares, **hooks):
    async def echo(scope, receiver):
        async for frame in receiver:
            yield ws_send(f"echo {frame}")

    return websocket(**hooks)(compose(*middlewares)(echo))


async def test_pings_every_interval_and_a_client_that_answers_stays():
    app = echo_app(wrap_heartbeat(10, 5))
    async with virtual_time() as clock, connect(app) as ws:
        for expected in (10.0, 20.0, 30.0):
            assert await ws.receive(timeout=11) == PING
            assert clock.now() == expected
            await ws.send(PONG)  # taken out: the handler never sees it
        await ws.send("hello")
        assert await ws.receive() == "echo hello"
        await clock.advance(4.9)
        assert ws.state == "open"


async def test_a_silent_client_is_closed_interval_plus_timeout_after_the_start():
    closed = []

    async def on_close(scope):
        closed.append(asyncio.get_running_loop().time())

    app = echo_app(wrap_heartbeat(10, 5), on_close=on_close)
    async with virtual_time() as clock, connect(app) as ws:
        start = asyncio.get_running_loop().time()
        assert await ws.receive(timeout=11) == PING
        with pytest.raises(AppClosed) as info:
            await ws.receive(timeout=10)
        assert clock.now() == 15.0
    assert (info.value.code, info.value.reason) == (4408, "heartbeat timeout")
    assert closed == [start + 15.0]


async def test_a_late_pong_does_not_save_the_connection_but_an_early_one_does():
    app = echo_app(wrap_heartbeat(10, 5, code=4000, reason="gone quiet"))
    async with virtual_time() as clock, connect(app) as ws:
        assert await ws.receive(timeout=11) == PING  # t=10
        await clock.advance(4)
        await ws.send(PONG)  # t=14: in time
        assert await ws.receive(timeout=11) == PING  # t=20
        await clock.advance(5)  # t=25: the deadline, no pong
        with pytest.raises(AppClosed) as info:
            await ws.receive(timeout=1)
    assert (info.value.code, info.value.reason) == (4000, "gone quiet")


async def test_a_timeout_longer_than_the_interval_checks_each_ping_in_turn():
    app = echo_app(wrap_heartbeat(2, 5))
    async with virtual_time() as clock, connect(app) as ws:
        seen = [await ws.receive(timeout=3) for _ in range(3)]  # t=2, 4, 6
        assert seen == [PING, PING, PING]
        with pytest.raises(AppClosed):  # the ping of t=2 unanswered at t=7
            await ws.receive(timeout=3)
        assert clock.now() == 7.0


async def test_it_composes_with_wrap_json_inside_and_outside():
    async def values(scope, receiver):
        async for value in receiver:
            yield {"got": value}

    outside = websocket(compose(wrap_heartbeat(10, 5), wrap_json)(values))
    inside = websocket(compose(wrap_json, wrap_heartbeat(10, 5))(values))
    for app in (outside, inside):
        async with virtual_time(), connect(app) as ws:
            assert await ws.receive(timeout=11) == PING  # sent as is, not JSON-encoded
            await ws.send(PONG)
            await ws.send('{"n": 1}')
            assert json.loads(await ws.receive()) == {"got": {"n": 1}}


async def test_it_composes_with_a_contract_and_the_idle_timeout():
    class Say(msgspec.Struct, tag="say"):
        text: str

    async def typed(scope, receiver):
        async for message in receiver:
            yield Say(message.text.upper())

    app = websocket(
        compose(wrap_idle_timeout(60), wrap_heartbeat(10, 5), contract(receives=Say, sends=Say))(
            typed
        )
    )
    async with virtual_time(), connect(app) as ws:
        assert await ws.receive(timeout=11) == PING
        await ws.send(PONG)  # never reaches the contract: no 1007
        await ws.send('{"type": "say", "text": "hi"}')
        assert json.loads(await ws.receive()) == {"type": "say", "text": "HI"}


async def test_custom_ping_and_pong():
    app = echo_app(wrap_heartbeat(1, 1, ping=b"\x09", is_pong=lambda frame: frame == b"\x0a"))
    async with virtual_time(), connect(app) as ws:
        assert await ws.receive(timeout=2) == b"\x09"
        await ws.send(b"\x0a")
        await ws.send("x")
        assert await ws.receive() == "echo x"


def test_is_json_pong():
    assert is_json_pong('{"type":"pong"}') and is_json_pong('{ "type" : "pong" }')
    assert is_json_pong({"type": "pong"})
    assert not is_json_pong('{"type":"pong","x":1}') and not is_json_pong("pong{")
    assert not is_json_pong(b'{"type":"pong"}') and not is_json_pong("hello")


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        ({"interval": 0}, ConfigError, "wrap_heartbeat interval expected a positive number"),
        ({"timeout": float("nan")}, ConfigError, "wrap_heartbeat timeout expected a positive"),
        ({"interval": True}, ConfigTypeError, "wrap_heartbeat interval expected a positive"),
        ({"code": 1005}, InvalidMessage, "wrap_heartbeat expected a close code in"),
        ({"is_pong": "pong"}, ConfigTypeError, "wrap_heartbeat expected a function is_pong"),
    ],
)
def test_bad_options_are_refused_at_once(options, error, text):
    with pytest.raises(error, match=text):
        wrap_heartbeat(**options)


# -- a real server, a client that stops answering ------------------------------------------

serve = server_fixture()


@pytest.mark.server
@pytest.mark.parametrize("server", ["hypercorn", "uvicorn", "granian"])
async def test_a_real_server_closes_a_client_that_stopped_answering(serve, server):
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed

    running = serve("tests.server_apps:heartbeat", server=server)
    async with ws_connect(running.ws_url("/?quiet"), open_timeout=5) as ws:
        assert await asyncio.wait_for(ws.recv(), 5) == PING  # 0.3 s: answered
        await ws.send(PONG)
        assert await asyncio.wait_for(ws.recv(), 5) == PING  # 0.6 s: not answered
        silent_since = time.monotonic()
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)  # the TCP connection stays open meanwhile
        waited = time.monotonic() - silent_since
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4408, "heartbeat timeout")
    assert waited < 1.0  # the deadline is 0.2 s after that ping
    await running.wait_for_report("on_close quiet")
    running.stop()
    assert "Traceback" not in running.log() and "LifecycleError" not in running.log()
