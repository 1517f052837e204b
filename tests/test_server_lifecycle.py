"""A connection's life (docs/design.md §2) and the server's own (lifespan, SIGTERM) over a
real hypercorn 0.18, checked against what docs/design.md §6 says hypercorn really does, and
the same over granian (``server_name`` parameter), where it differs saying how."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests import server_apps
from tests.serving import HOST, server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()

TIMEOUT = 5.0  # any single network wait
servers = pytest.mark.parametrize("server_name", ["hypercorn", "granian"])
APPS = "tests.server_apps"


async def closed_by_server(ws, timeout: float = TIMEOUT) -> ConnectionClosed:
    """Wait for the server's close (no other message may come first); the exception."""
    with pytest.raises(ConnectionClosed) as info:
        message = await asyncio.wait_for(ws.recv(), timeout)
        pytest.fail(f"expected the server's close, got the message {message!r}")
    return info.value


def lines_about(server, connection: str) -> list[str]:
    """The report lines about one connection, without their time stamps."""
    lines = [line.split(" ", 1)[1] for line in server.report()]
    return [line for line in lines if line.split()[-1] == connection or f" {connection} " in line]


# -- (a) flow control ----------------------------------------------------------------------


@servers
async def test_flooding_client_does_not_grow_the_receiver_buffer_past_its_bound(serve, server_name):
    # 20,000 frames of 1 KiB (20 MB) at a handler that sleeps a second before reading: the
    # driver reads ahead at most max_buffered frames, hypercorn's queue is bounded, and the
    # rest waits in the kernel's socket buffers, so the server's memory stays flat.
    frames, size = 20_000, 1024
    server = serve(f"{APPS}:flood", server_name)
    peak_before = server.peak_rss_kib()
    async with connect(server.ws_url("/"), open_timeout=TIMEOUT) as ws:
        started = time.monotonic()
        for index in range(frames):
            await ws.send(f"frame {index} ".ljust(size, "x"))
        await ws.send(server_apps.FLOOD_END)
        answer = await asyncio.wait_for(ws.recv(), 30)
        elapsed = time.monotonic() - started
        peak_after = server.peak_rss_kib()
    count, most = map(int, answer.split())
    limit = server_apps.flood.max_buffered
    assert count == frames, f"the handler read {count} of {frames} frames"
    assert most <= limit, f"receiver.buffered reached {most}, over max_buffered={limit}"
    # The handler slept before its first read while the driver read ahead: the buffer was used.
    assert most >= 1, "nothing was ever buffered: the test did not exercise the read-ahead"
    assert elapsed >= server_apps.FLOOD_PAUSE
    if peak_before is not None and peak_after is not None:
        grown = (peak_after - peak_before) / 1024
        assert grown < 8, f"the server's peak memory grew {grown:.1f} MiB for 20 MiB sent"


# -- (b) refusals in on_connect ------------------------------------------------------------


@servers
async def test_on_connect_deny_reaches_the_client_as_that_http_response(serve, server_name):
    server = serve(f"{APPS}:denied", server_name)
    with pytest.raises(InvalidStatus) as info:
        async with connect(server.ws_url("/?d"), open_timeout=TIMEOUT):
            pytest.fail("the connection was accepted")
    response = info.value.response
    assert response.status_code == 401
    assert response.body == b"no token"
    assert response.headers["content-type"].startswith("text/plain")
    assert server.stop() == 0
    assert server.report() == [], "a refused connection reached the handler or on_close"


@servers
async def test_on_connect_close_reaches_the_client_as_http_403(serve, server_name):
    server = serve(f"{APPS}:refused", server_name)
    with pytest.raises(InvalidStatus) as info:
        async with connect(server.ws_url("/?r"), open_timeout=TIMEOUT):
            pytest.fail("the connection was accepted")
    response = info.value.response
    assert response.status_code == 403
    assert response.body == b""
    assert server.stop() == 0
    assert server.report() == [], "a refused connection reached the handler or on_close"


# -- (c) a handler that raises -------------------------------------------------------------


@servers
async def test_handler_error_closes_1011_without_reason_and_logs_the_traceback_once(
    serve, server_name
):
    server = serve(f"{APPS}:raiser", server_name)
    async with connect(server.ws_url("/"), open_timeout=TIMEOUT) as ws:
        await ws.send("x")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "got x"
        closed = await closed_by_server(ws)
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert (closed.rcvd.code, closed.rcvd.reason) == (1011, "")
    assert server.stop() == 0
    log = server.log()
    assert log.count("Traceback (most recent call last)") == 1, log
    assert log.count(server_apps.SECRET) == 1, log
    assert f"RuntimeError: {server_apps.SECRET} while handling 'x'" in log
    [record] = [line for line in log.splitlines() if "closing with 1011" in line]
    assert " ERROR shallot_ws: " in record and "raiser" in record, record
    assert "Error in ASGI Framework" not in log, "the exception escaped to the server"


# -- (d) hooks -----------------------------------------------------------------------------


@servers
async def test_client_leaving_runs_on_disconnect_then_on_close(serve, server_name):
    server = serve(f"{APPS}:hooked", server_name)
    async with connect(server.ws_url("/?left"), open_timeout=TIMEOUT) as ws:
        await ws.send("a")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "ok a"
    await server.wait_for_report("on_close left")
    lines = lines_about(server, "left")
    assert [line.split()[0] for line in lines] == ["handler", "on_disconnect", "on_close"], lines


@servers
async def test_handler_finishing_closes_1000_and_runs_only_on_close(serve, server_name):
    server = serve(f"{APPS}:hooked", server_name)
    async with connect(server.ws_url("/?done"), open_timeout=TIMEOUT) as ws:
        await ws.send("a")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "ok a"
        await ws.send("finish")
        closed = await closed_by_server(ws)
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert (closed.rcvd.code, closed.rcvd.reason) == (1000, "")
    await server.wait_for_report("on_close done")
    assert lines_about(server, "done") == ["handler end done connected", "on_close done"]


# -- (e) graceful shutdown -----------------------------------------------------------------


# hypercorn 0.18's asyncio worker (the default, which these tests run) on Python 3.12+
# never reaches its graceful timeout: asyncio's Server.wait_closed() now waits for every
# open connection (pgjones/hypercorn#308, fix proposed in #374). It then keeps a WebSocket
# open until the client leaves. The uvloop worker (-k uvloop) is not affected: its
# wait_closed() does not wait for connections, so the graceful timeout works on every
# Python (tests/test_deployment.py asserts it).
HYPERCORN_WAITS_FOREVER = sys.version_info >= (3, 12)


async def test_sigterm_on_this_python(serve):
    """What SIGTERM does to an open stream under hypercorn 0.18's asyncio worker depends on
    the Python (under the uvloop worker it does not: tests/test_deployment.py)."""
    if HYPERCORN_WAITS_FOREVER:
        await sigterm_keeps_the_stream_until_the_client_leaves(serve)
    else:
        await sigterm_lets_a_stream_run_out_the_grace_then_closes_1012_and_runs_on_close(serve)


async def sigterm_lets_a_stream_run_out_the_grace_then_closes_1012_and_runs_on_close(
    serve,
):
    # What hypercorn 0.18 does on SIGTERM (asyncio worker, hypercorn/asyncio/run.py): it stops
    # listening at once, waits up to graceful_timeout for the open connections, then cancels
    # their tasks. It tells the app nothing before that: the stream keeps flowing through
    # the grace period. The cancelled driver still sends 1012 and runs on_close. (asyncio
    # then logs "Exception in callback StreamReaderProtocol.connection_made" with a
    # CancelledError for the cancelled connection task: hypercorn's noise, not the app's.)
    grace = 1
    server = serve(f"{APPS}:stream", graceful_timeout=grace)
    async with connect(server.ws_url("/?s"), open_timeout=TIMEOUT) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "n 0"
        signalled = time.monotonic()
        server.terminate()
        assert await refuses_new_connections(server.port, within=grace * 0.8)
        after = 0
        closed = None
        while closed is None:
            try:
                await asyncio.wait_for(ws.recv(), grace + TIMEOUT)
                after += 1
            except ConnectionClosed as exc:
                closed = exc
        closed_after = time.monotonic() - signalled
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert closed.rcvd.code == 1012, closed
    assert grace * 0.8 <= closed_after <= grace + 2, closed_after
    assert after >= 5, f"only {after} messages during the {grace} s grace period"
    assert await server.wait_exit() == 0
    lines = lines_about(server, "s")
    assert lines[0] == "stream s interrupted by CancelledError", lines
    assert lines[1].startswith("stream finally s after"), lines
    assert lines[2:] == ["on_close s"], "on_close must run once, after the handler, alone"
    assert " shallot_ws: " not in server.log(), "a shutdown is not an error of the app"


async def sigterm_keeps_the_stream_until_the_client_leaves(serve):
    # On 3.12+ the asyncio worker never cancels the connection (hypercorn#308), so the app never
    # learns of the shutdown: the stream runs on past the grace period. When the client
    # leaves, the driver stops the stream and runs the hooks, and the server exits.
    grace = 1
    server = serve(f"{APPS}:stream", graceful_timeout=grace)
    async with connect(server.ws_url("/?s"), open_timeout=TIMEOUT) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "n 0"
        server.terminate()
        assert await refuses_new_connections(server.port, within=grace * 0.8)
        deadline = time.monotonic() + grace + 1.5
        while time.monotonic() < deadline:  # well past the grace period: still streaming
            assert (await asyncio.wait_for(ws.recv(), TIMEOUT)).startswith("n ")
    assert await server.wait_exit(timeout=grace + 5) == 0
    lines = lines_about(server, "s")
    assert lines[0] == "stream s interrupted by GeneratorExit", lines
    assert lines[1].startswith("stream finally s after"), lines
    assert lines[2:] == ["on_disconnect s", "on_close s"], lines


# What the app reports of a connection whose client left before SIGTERM, its handler still
# draining: hypercorn's shutdown cancels it; granian's worker does not, but the app's
# lifespan shutdown does (shallot_ws.connections.drain). The hooks run under both.
LEFT_BEFORE_SHUTDOWN = [
    "disconnect read g",
    "lingering finally g disconnected=True",
    "on_disconnect g",
    "on_close g",
]


@servers
async def test_client_that_left_before_the_shutdown_still_gets_on_disconnect(serve, server_name):
    # The client leaves while the handler waits without reading, with a drain time (10 s)
    # longer than the grace (1 s): the driver knows the client is gone, then hypercorn's
    # shutdown cancels the connection. The client did disconnect (§2.5: then on_disconnect
    # runs); the shutdown only cut the drain short. (granian answers the client's close only
    # when the app returns, so the client stops waiting for it after close_timeout.)
    server = serve(f"{APPS}:lingering", server_name, graceful_timeout=1)
    async with connect(server.ws_url("/?g"), open_timeout=TIMEOUT, close_timeout=0.2) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "ready"
    await server.wait_for_report("disconnect read g")  # the driver's watcher took it
    server.terminate()
    assert await server.wait_exit() == 0
    assert lines_about(server, "g") == LEFT_BEFORE_SHUTDOWN


async def refuses_new_connections(port: int, within: float) -> bool:
    """Whether connecting to ``port`` is refused at some point in the next ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 0.5)
        except (OSError, asyncio.TimeoutError):
            return True
        writer.close()
        with contextlib.suppress(OSError):  # a connection left in the closed backlog is reset
            await writer.wait_closed()
        await asyncio.sleep(0.02)  # a bounded poll of another process: the server's socket
    return False


# -- (f) docs/design.md §6: the disconnect code the app sees -------------------------------


async def test_app_sees_disconnect_code_1006_whatever_the_client_sent(serve):
    # A hypercorn 0.18 bug (ws_stream.py: the close handshake ends in StreamClosed while the
    # state is still CONNECTED, so it reports ABNORMAL_CLOSURE): documented, not endorsed.
    # If this starts failing, hypercorn was fixed: update docs/design.md §6 and the docs.
    server = serve(f"{APPS}:hooked")
    async with connect(server.ws_url("/?f"), open_timeout=TIMEOUT) as ws:
        await ws.send("a")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "ok a"
        await ws.close(4321, "custom")
    line = await server.wait_for_report("handler end f")
    assert line.split(" ", 1)[1] == "handler end f disconnect code=1006 reason=''", line


# -- (g) lifespan --------------------------------------------------------------------------


@servers
async def test_bare_app_completes_lifespan_startup_and_shutdown(serve, server_name):
    server = serve("examples.echo:echo", server_name)
    async with connect(server.ws_url("/"), open_timeout=TIMEOUT) as ws:
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "@ECHO: hi"
    server.terminate()
    assert await server.wait_exit() == 0
    log = server.log()
    assert {"hypercorn": "Running on http://", "granian": "Listening at: http://"}[
        server_name
    ] in log
    assert "lifespan" not in log.lower(), log
    assert " ERROR " not in log and "Traceback" not in log, log
