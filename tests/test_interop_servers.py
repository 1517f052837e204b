"""The examples behind three real servers, hypercorn 0.18, uvicorn and granian, and where
they differ.

Every example test runs under each server (``server`` parameter). uvicorn runs with its
defaults (see ``tests.serving``): ``--ws auto``, which is websockets-sansio here, on uvloop;
granian with ``--interface asgi`` and its defaults (one worker, uvloop). The tests at the end
pin down what the servers do differently, as documentation: the close code the app sees when
the client leaves, a send after the client left, and SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from examples import chatbot
from tests import interop_apps, server_apps
from tests.serving import http_get, installed_version, server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()

SERVERS = ["hypercorn", "uvicorn", "granian"]
TIMEOUT = 5.0  # any single network wait

every_server = pytest.mark.parametrize("server", SERVERS)


async def closed_by_server(ws) -> ConnectionClosed:
    """Wait for the server's close (no other message may come first); the exception."""
    with pytest.raises(ConnectionClosed) as info:
        message = await asyncio.wait_for(ws.recv(), TIMEOUT)
        pytest.fail(f"expected the server's close, got the message {message!r}")
    return info.value


async def recv(ws) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


def report_lines(server, connection: str) -> list[tuple[float, str]]:
    """The app's report lines about one connection: (time.time() stamp, text)."""
    lines = []
    for line in server.report():
        stamp, text = line.split(" ", 1)
        if text.split()[-1] == connection or f" {connection} " in text:
            lines.append((float(stamp), text))
    return lines


# -- the examples, behind each server --------------------------------------------------------


@every_server
async def test_echo_echoes_and_exit_closes_1001_bye(serve, server):
    live = serve("examples.echo:app", server)
    async with connect(live.ws_url("/"), open_timeout=TIMEOUT) as ws:
        await ws.send("hi")
        assert await recv(ws) == "@ECHO: hi"
        await ws.send(b"\x00\x01")
        assert await recv(ws) == "@ECHO: b'\\x00\\x01'"
        await ws.send("exit")
        closed = await closed_by_server(ws)
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert (closed.rcvd.code, closed.rcvd.reason) == (1001, "bye")


@every_server
async def test_chatbot_greets_replies_and_says_goodbye(serve, server):
    live = serve("examples.chatbot:app", server)
    async with connect(live.ws_url("/"), open_timeout=TIMEOUT) as ws:
        assert await recv(ws) == "Chatbot ready. Say hello."
        await ws.send("How are you?")
        assert await recv(ws) == chatbot.reply_to("How are you?")
        await ws.send("bye")
        assert await recv(ws) == "Goodbye!"
        closed = await closed_by_server(ws)
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert (closed.rcvd.code, closed.rcvd.reason) == (1000, "")


@every_server
async def test_auth_greets_a_valid_token_and_denies_others_with_401(serve, server):
    live = serve("examples.auth:app", server)
    bearer = {"Authorization": "Bearer bob-token"}
    async with connect(live.ws_url("/"), additional_headers=bearer, open_timeout=TIMEOUT) as ws:
        assert await recv(ws) == "Hello, bob!"
    async with connect(live.ws_url("/?token=ann-token"), open_timeout=TIMEOUT) as ws:
        assert await recv(ws) == "Hello, ann!"
    with pytest.raises(InvalidStatus) as info:
        async with connect(live.ws_url("/?token=eve-token"), open_timeout=TIMEOUT):
            pytest.fail("the server accepted an invalid token")
    assert (info.value.response.status_code, info.value.response.body) == (401, b"invalid token")


@every_server
async def test_rooms_share_json_messages_and_refuse_unknown_paths(serve, server):
    live = serve("examples.rooms:app", server)
    async with (
        connect(live.ws_url("/rooms/blue"), open_timeout=TIMEOUT) as ann,
        connect(live.ws_url("/rooms/blue"), open_timeout=TIMEOUT) as bob,
    ):
        a = json.loads(await recv(ann))["you"]
        json.loads(await recv(bob))
        await ann.send(json.dumps({"text": "hi bob"}))
        expected = {"room": "blue", "text": "hi bob", "from": a}
        assert json.loads(await recv(bob)) == expected
        assert json.loads(await recv(ann)) == expected
    with pytest.raises(InvalidStatus) as info:
        async with connect(live.ws_url("/nowhere"), open_timeout=TIMEOUT):
            pytest.fail("an unknown path was accepted")
    assert info.value.response.status_code == 404
    status, _, body = http_get(live.url("/"))
    assert status == 200 and b"<html" in body.lower()


@every_server
async def test_ticker_ticks_and_its_finally_runs_within_a_second_of_the_client_leaving(
    serve, server
):
    # The client leaves right after tick 1, while the ticker sleeps for a second; its
    # ``finally`` must run well before it would have yielded tick 2 (docs/design.md §2, rule 5).
    live = serve("examples.ticker:app", server)
    async with connect(live.ws_url("/"), open_timeout=TIMEOUT) as ws:
        assert await recv(ws) == "tick 0"
        first = time.monotonic()
        assert await recv(ws) == "tick 1"
        gap = time.monotonic() - first
        closed_at = time.time()
    assert 0.8 <= gap <= 1.3, gap
    line = await live.wait_for_log("ticker stopped after", timeout=3.0)
    stamp, level, name = line.split()[:3]
    assert (level, name) == ("WARNING", "examples.ticker:"), line
    delay = float(stamp) - closed_at
    assert 0 <= delay <= 1.0, f"the ticker's finally ran {delay:.3f} s after the close: {line}"
    match = re.search(r"ticker stopped after (\d+) ticks", line)
    assert match is not None and int(match.group(1)) == 2, line
    assert live.log().count("ticker stopped after") == 1
    assert "Traceback" not in live.log(), live.log()


@every_server
@pytest.mark.parametrize("name", ["echo", "ticker", "chatbot"])
def test_bare_websocket_app_answers_plain_http_with_426(serve, server, name):
    live = serve(f"examples.{name}:{name}", server)
    status, headers, body = http_get(live.url("/"))
    assert status == 426
    assert headers["upgrade"].lower() == "websocket"
    assert b"Upgrade Required" in body


@every_server
def test_example_page_is_served_over_http(serve, server):
    live = serve("examples.echo:app", server)
    status, headers, body = http_get(live.url("/"))
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b"shallot_ws: echo" in body


# -- where the servers differ ---------------------------------------------------------------

# The (code, reason) the app sees in ``websocket.disconnect`` after the client closed with
# 4321 "custom". hypercorn 0.18 reports 1006 whatever the client sent (docs/design.md §6, the
# hypercorn bug); uvicorn passes the client's close frame on; granian passes the code on but
# not the reason (its event has no "reason" key, which ASGI reads as "").
DISCONNECT_SEEN = {"hypercorn": (1006, ""), "uvicorn": (4321, "custom"), "granian": (4321, "")}


@every_server
async def test_the_close_code_the_app_sees_when_the_client_leaves(serve, server):
    live = serve("tests.server_apps:hooked", server)
    async with connect(live.ws_url("/?f"), open_timeout=TIMEOUT) as ws:
        await ws.send("a")
        assert await recv(ws) == "ok a"
        await ws.close(4321, "custom")
    await live.wait_for_report("on_close f")
    code, reason = DISCONNECT_SEEN[server]
    assert [text for _, text in report_lines(live, "f")] == [
        f"handler end f disconnect code={code} reason={reason!r}",
        "on_disconnect f",
        "on_close f",
    ]


# uvicorn's websockets-sansio protocol (its ``--ws auto`` here) did not mark the handshake
# done after a denial response up to 0.54, so when the app returned it logged this at ERROR
# level, once per denial (the client got the right response all the same). uvicorn 0.55 fixed
# it (Kludex/uvicorn#3138): from then on a denial logs no ERROR. The test asserts whichever
# behaviour the installed version is documented to have (docs/interop.md).
UVICORN_FIXED_DENIAL_LOG = (0, 55)
SPURIOUS_DENIAL_ERROR = "ASGI callable returned without completing handshake"


@every_server
async def test_on_connect_refusals_reach_the_client_as_http_responses(serve, server):
    denying = serve("tests.server_apps:denied", server)
    with pytest.raises(InvalidStatus) as info:
        async with connect(denying.ws_url("/?d"), open_timeout=TIMEOUT):
            pytest.fail("the connection was accepted")
    response = info.value.response
    assert (response.status_code, bytes(response.body)) == (401, b"no token")
    assert response.headers["content-type"].startswith("text/plain")

    refusing = serve("tests.server_apps:refused", server)
    with pytest.raises(InvalidStatus) as info:
        async with connect(refusing.ws_url("/?r"), open_timeout=TIMEOUT):
            pytest.fail("the connection was accepted")
    assert (info.value.response.status_code, bytes(info.value.response.body)) == (403, b"")

    for live in (denying, refusing):
        assert live.stop() == live.sigterm_exit  # stopped: its log is complete
        assert live.report() == [], "a refused connection reached the handler or on_close"
        assert "Traceback" not in live.log(), live.log()
    errors = [line for line in denying.log().splitlines() if " ERROR " in line]
    if server == "uvicorn" and installed_version("uvicorn") < UVICORN_FIXED_DENIAL_LOG:
        assert len(errors) == 1 and SPURIOUS_DENIAL_ERROR in errors[0], errors
    else:
        assert errors == [], errors
    assert " ERROR " not in refusing.log(), refusing.log()


@every_server
async def test_a_stream_with_a_full_read_ahead_buffer_stops_when_the_client_leaves(serve, server):
    # The client sends max_buffered frames that the stream never reads, so the driver's
    # read-ahead is full and it stops reading (docs/design.md §2, rule 2): the disconnect
    # event waits behind them. After stall_timeout with no frame taken the driver reads on, dropping
    # what does not fit, and sees the disconnect (hypercorn reports 1006 for any close, granian
    # the client's code).
    # Under uvicorn the stream's next send may raise first (ASGI 2.4: OSError after the
    # client left), which the driver also takes as the client leaving, with code 1006.
    live = serve("tests.interop_apps:deaf_stream", server)
    async with connect(live.ws_url("/?d"), open_timeout=TIMEOUT, close_timeout=1) as ws:
        for index in range(interop_apps.DEAF_MAX_BUFFERED):
            await ws.send(f"unread {index}")
        for index in range(3):
            assert await recv(ws) == f"n {index}"
        left_at = time.time()  # the close starts (granian answers it only when the app ends)
    await live.wait_for_report("on_close d", timeout=2.0)
    lines = report_lines(live, "d")
    texts = [text for _, text in lines]
    # hypercorn always reports 1006; under uvicorn whichever comes first wins: the watcher
    # reading the client's real close (1000) or the next send raising (1006); granian's sends
    # return as hypercorn's do, and the watcher reads the client's close (1000)
    codes = {"hypercorn": "1006", "uvicorn": "(1000|1006)", "granian": "1000"}[server]
    assert re.fullmatch(rf"deaf finally d after \d+ disconnect={codes}", texts[0]), texts
    assert texts[1:] == ["on_disconnect d", "on_close d"], texts
    delay = lines[0][0] - left_at
    assert delay <= 1.0, f"the stream stopped {delay:.3f} s after the client left"
    assert "Traceback" not in live.log(), live.log()


# The code the app sees when the client vanishes: its TCP connection reset, no close frame.
VANISHED_SEEN = {"hypercorn": 1006, "uvicorn": 1005, "granian": 1005}


@every_server
async def test_the_close_code_the_app_sees_when_the_client_vanishes(serve, server):
    live = serve("tests.server_apps:hooked", server)
    async with connect(live.ws_url("/?v"), open_timeout=TIMEOUT) as ws:
        await ws.send("a")
        assert await recv(ws) == "ok a"
        ws.transport.abort()  # no close frame: a reset
    await live.wait_for_report("on_close v")
    assert [text for _, text in report_lines(live, "v")] == [
        f"handler end v disconnect code={VANISHED_SEEN[server]} reason=''",
        "on_disconnect v",
        "on_close v",
    ]


# Whether the client's close is answered while the app still runs: hypercorn and uvicorn
# answer it at once; granian only when the app's call returns. tests.server_apps:lingering
# waits LINGER_DRAIN (10 s) after its client left before the driver stops it.
ANSWERS_CLOSE_AT_ONCE = {"hypercorn": True, "uvicorn": True, "granian": False}


@every_server
async def test_when_the_server_answers_the_clients_close(serve, server):
    live = serve("tests.server_apps:lingering", server)
    ws = await connect(live.ws_url("/?c"), open_timeout=TIMEOUT, close_timeout=0.5)
    assert await recv(ws) == "ready"
    await ws.close()  # waits for the server's close at most close_timeout (0.5 s)
    answered = ws.protocol.close_rcvd is not None
    assert answered == ANSWERS_CLOSE_AT_ONCE[server], ws.protocol.close_rcvd
    await live.wait_for_report("disconnect read c")  # the app saw the client leave all the same


# What the server's send does (tests.server_apps:send_probe, PROBE_SENDS sends in a row while
# a task counts loop turns): on an open connection, and after the client left. One turn: no
# send suspended. hypercorn and uvicorn write to the socket's buffer and return at once;
# granian hands each message to its Rust runtime and suspends until it is written.
SENDS_OPEN = {"hypercorn": "returned", "uvicorn": "returned", "granian": "returned"}
SENDS_LEFT = {
    "hypercorn": "returned",
    "uvicorn": "raised ClientDisconnected",
    "granian": "returned",
}
SUSPENDS_OPEN = {"hypercorn": False, "uvicorn": False, "granian": True}


@every_server
async def test_what_a_send_does_while_the_client_is_there_and_after_it_left(serve, server):
    live = serve("tests.server_apps:send_probe", server)
    async with connect(live.ws_url("/open?o"), open_timeout=TIMEOUT) as ws:
        for index in range(server_apps.PROBE_SENDS):
            assert await recv(ws) == f"m {index}"
        await closed_by_server(ws)
    async with connect(live.ws_url("/left?l"), open_timeout=TIMEOUT) as ws:
        assert await recv(ws) == "ready"
    await live.wait_for_report("left l")
    [(_, opened)] = report_lines(live, "o")
    [(_, left)] = report_lines(live, "l")
    open_turns = int(opened.rsplit("=", 1)[1])
    assert opened.startswith(f"open o {SENDS_OPEN[server]} turns="), opened
    if SUSPENDS_OPEN[server]:
        assert open_turns >= server_apps.PROBE_SENDS, opened  # at least one turn per send
    else:
        assert open_turns == 1, opened
    # After the client left, no server's send suspends: a stream that only yields would spin
    # without a loop turn from the driver (tests/test_server_faults.py).
    assert left == f"left l {SENDS_LEFT[server]} turns=1", left


SCOPE_SEEN = {
    "hypercorn": {"spec_version": "2.3", "port": "int"},
    "uvicorn": {"spec_version": "2.4", "port": "int"},
    # granian gives the client's port as a string, where ASGI says int
    "granian": {"spec_version": "2.3", "port": "str"},
}
EXTENSIONS = {
    "hypercorn": ["websocket.http.response"],
    "uvicorn": ["websocket.http.response"],
    "granian": ["http.response.pathsend", "websocket.http.response"],
}


@every_server
async def test_the_scope_each_server_gives(serve, server):
    live = serve("tests.server_apps:scope_probe", server)
    async with connect(live.ws_url("/"), open_timeout=TIMEOUT) as ws:
        seen = json.loads(await recv(ws))
    expected = SCOPE_SEEN[server]
    assert seen == {
        "spec_version": expected["spec_version"],
        "extensions": EXTENSIONS[server],
        "client": ["127.0.0.1", expected["port"]],
    }


async def test_granian_sigterm_drops_open_websockets_and_the_app_closes_its_own(serve):
    # granian's shutdown: the main process sends SIGTERM to its worker, which stops its Rust
    # server, runs the lifespan shutdown and exits, without cancelling the connections'
    # tasks or waiting for them. The client sees its TCP connection closed without a close
    # frame (1006), at once. The app's lifespan shutdown closes the connections granian left
    # (shallot_ws.connections.drain): the handler here waits on an event that only the
    # driver's drain (10 s after its client left) or a cancellation would end; cancelled,
    # its finally and its hooks run (on_close last) before the worker exits. Whether the
    # driver's watcher reads granian's dropped connection first (then on_disconnect runs:
    # the client left) or the 1012 close is on its way when it does, is a race.
    live = serve("tests.server_apps:lingering", "granian", graceful_timeout=1)
    async with connect(live.ws_url("/?s"), open_timeout=TIMEOUT) as ws:
        assert await recv(ws) == "ready"
        signalled = time.monotonic()
        live.terminate()
        closed = await closed_by_server(ws)
        closed_after = time.monotonic() - signalled
    assert closed.rcvd is None, "granian sent a close frame"
    assert closed_after < 1.0, closed_after
    assert await live.wait_exit() == live.sigterm_exit == 0
    texts = [text for _, text in report_lines(live, "s")]
    assert texts[-1] == "on_close s", texts
    assert any(text.startswith("lingering finally s") for text in texts), texts
    assert set(texts) <= {
        "disconnect read s",
        "lingering finally s disconnected=True",
        "lingering finally s disconnected=False",
        "on_disconnect s",
        "on_close s",
    }, texts
    log = live.log()
    assert "Traceback" not in log and " ERROR " not in log, log


async def test_uvicorn_sigterm_closes_open_websockets_with_1012_at_once(serve):
    # uvicorn's shutdown closes every open WebSocket with 1012 (service restart) right away
    # and hands the app a disconnect with that code: the driver stops the stream at its next
    # yield and runs on_disconnect, then on_close. (hypercorn says nothing to the app until
    # its graceful timeout; see test_server_lifecycle.py.) uvicorn then re-raises SIGTERM
    # on itself: its exit code is -15.
    live = serve("tests.server_apps:stream", "uvicorn", graceful_timeout=1)
    async with connect(live.ws_url("/?s"), open_timeout=TIMEOUT) as ws:
        assert (await recv(ws)).startswith("n ")
        signalled = time.monotonic()
        live.terminate()
        with pytest.raises(ConnectionClosed) as info:
            while time.monotonic() - signalled < TIMEOUT:
                assert (await recv(ws)).startswith("n ")
            pytest.fail(f"still streaming {TIMEOUT} s after SIGTERM")
        closed_after = time.monotonic() - signalled
    closed = info.value
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert closed.rcvd.code == 1012, closed
    assert closed_after < 1.0, closed_after
    assert await live.wait_exit() == live.sigterm_exit == -15
    texts = [text for _, text in report_lines(live, "s")]
    assert texts[0] == "stream s interrupted by GeneratorExit", texts
    assert texts[1].startswith("stream finally s after"), texts
    assert texts[2:] == ["on_disconnect s", "on_close s"], texts
    assert "Traceback" not in live.log(), live.log()


@pytest.mark.parametrize("implementation", ["websockets-sansio", "websockets", "wsproto"])
async def test_every_uvicorn_websocket_implementation_reports_the_clients_close_code(
    serve, implementation
):
    # ``--ws auto`` picks websockets-sansio when websockets is installed, wsproto otherwise;
    # ``--ws websockets`` (the legacy one) is deprecated by uvicorn and warns at start.
    live = serve("tests.server_apps:hooked", "uvicorn", args=("--ws", implementation))
    async with connect(live.ws_url("/?w"), open_timeout=TIMEOUT) as ws:
        await ws.send("a")
        assert await recv(ws) == "ok a"
        await ws.close(4000, "done")
    await live.wait_for_report("on_close w")
    assert [text for _, text in report_lines(live, "w")] == [
        "handler end w disconnect code=4000 reason='done'",
        "on_disconnect w",
        "on_close w",
    ]
    deprecated = "UvicornDeprecationWarning" in live.log()
    assert deprecated == (implementation == "websockets"), live.log()
