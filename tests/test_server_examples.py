"""The examples behind a real hypercorn, and behind granian where marked, talked to with the
websockets client (each example under every server: tests/test_interop_servers.py)."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from examples import chatbot
from tests.serving import server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()

TIMEOUT = 5.0  # any single network wait


async def closed_by_server(ws) -> ConnectionClosed:
    """Wait for the server's close (no other message may come first); the exception."""
    with pytest.raises(ConnectionClosed) as info:
        message = await asyncio.wait_for(ws.recv(), TIMEOUT)
        pytest.fail(f"expected the server's close, got the message {message!r}")
    return info.value


@pytest.mark.parametrize(
    ("server_name", "loop"),
    [
        ("hypercorn", ("--worker-class", "asyncio")),
        ("hypercorn", ("--worker-class", "uvloop")),
        ("granian", ("--loop", "asyncio")),
        ("granian", ("--loop", "uvloop")),
    ],
)
async def test_echo_echoes_and_exit_closes_1001_bye(serve, server_name, loop):
    server = serve("examples.echo:app", server_name, args=loop)
    async with connect(server.ws_url("/"), open_timeout=TIMEOUT) as ws:
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "@ECHO: hi"
        await ws.send(b"\x00\x01")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "@ECHO: b'\\x00\\x01'"
        await ws.send("exit")
        closed = await closed_by_server(ws)
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert (closed.rcvd.code, closed.rcvd.reason) == (1001, "bye")


@pytest.mark.parametrize("server_name", ["hypercorn", "granian"])
async def test_chatbot_greets_replies_and_says_goodbye(serve, server_name):
    server = serve("examples.chatbot:app", server_name)
    async with connect(server.ws_url("/"), open_timeout=TIMEOUT) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "Chatbot ready. Say hello."
        # The words are the example's to choose: compare with its own table and function.
        for text in ("hello", "help", "How are you?", "what now?", "sing"):
            await ws.send(text)
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == chatbot.reply_to(text)
        await ws.send("bye")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "Goodbye!"
        closed = await closed_by_server(ws)
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert (closed.rcvd.code, closed.rcvd.reason) == (1000, "")


async def test_ticker_ticks_about_a_second_apart(serve):
    server = serve("examples.ticker:app")
    arrivals = []
    async with connect(server.ws_url("/"), open_timeout=TIMEOUT) as ws:
        for expected in ("tick 0", "tick 1", "tick 2"):
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == expected
            arrivals.append(time.monotonic())
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(0.8 <= gap <= 1.3 for gap in gaps), gaps


async def test_ticker_finally_runs_within_a_second_of_the_disconnect(serve):
    # The client leaves right after tick 0, while the ticker sleeps for a second: its
    # ``finally`` must run well before it would have yielded tick 1 (docs/design.md §2, rule 5).
    server = serve("examples.ticker:app")
    async with connect(server.ws_url("/"), open_timeout=TIMEOUT) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "tick 0"
        closed_at = time.time()
        await ws.close()
    line = await server.wait_for_log("ticker stopped after", timeout=3.0)
    stamp, level, name = line.split()[:3]
    assert (level, name) == ("WARNING", "examples.ticker:"), line
    delay = float(stamp) - closed_at
    assert 0 <= delay <= 1.0, f"the ticker's finally ran {delay:.3f} s after the close: {line}"
    match = re.search(r"ticker stopped after (\d+) ticks", line)
    assert match is not None and int(match.group(1)) >= 1, line
    assert server.log().count("ticker stopped after") == 1


def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


@pytest.mark.parametrize("server_name", ["hypercorn", "granian"])
@pytest.mark.parametrize("name", ["echo", "ticker", "chatbot"])
def test_example_serves_its_page_over_http(serve, name, server_name):
    server = serve(f"examples.{name}:app", server_name)
    status, headers, body = http_get(server.url("/"))
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert body.startswith(b"<!doctype html>")
    assert f"shallot_ws: {name}".encode() in body
    assert b"new WebSocket(" in body


def test_bare_websocket_app_answers_http_with_426(serve):
    server = serve("examples.echo:echo")
    status, headers, body = http_get(server.url("/"))
    assert status == 426
    assert headers["upgrade"].lower() == "websocket"
    assert b"Upgrade Required" in body


async def test_under_the_trio_worker_the_handshake_is_refused_with_a_clear_error(serve):
    server = serve("examples.echo:echo", args=("--worker-class", "trio"))
    with pytest.raises(InvalidStatus) as info:
        async with connect(server.ws_url("/"), open_timeout=TIMEOUT):
            pass
    assert info.value.response.status_code == 500
    log = await server.wait_for_log("trio is not supported yet")
    assert "expected an asyncio event loop" in log
