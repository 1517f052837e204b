"""docs/deployment.md against real servers: the page's TOML file as ``hypercorn -c`` loads
it, what a client and the app see at the limits it sets (message size, pings, read timeout),
shutdown under the uvloop worker, ``ProxyFixMiddleware`` over the network, and the uvicorn
and granian equivalents the page names.

The apps served here (``probe``, ``behind_proxy``, ``proxied_or_not``) are defined in this
module, which the server imports as ``tests.test_deployment``. Like ``tests.server_apps``,
they report what the client cannot see through ``tests.server_apps.report``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from granian.utils.proxies import wrap_asgi_with_proxy_headers
from hypercorn.config import Config
from hypercorn.middleware import ProxyFixMiddleware
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from wsproto import ConnectionType, WSConnection
from wsproto.events import Ping, Request

from shallot_ws import websocket, ws_send
from shallot_ws.scope import headers, url
from tests import server_apps
from tests.serving import HOST, server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()

PAGE = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"
TIMEOUT = 5.0  # any single network wait
MODULE = "tests.test_deployment"


# -- the apps the servers run --------------------------------------------------------------


async def _on_disconnect(scope):
    server_apps.report(f"on_disconnect {server_apps.connection_id(scope)}")


async def _on_close(scope):
    server_apps.report(f"on_close {server_apps.connection_id(scope)}")


async def _probe(scope, receiver):
    """Says what it sees of the connection (as JSON), then answers each message with its type
    and length; reports the code of the client's leaving (``left <id> code=...``)."""
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]  # asyncio or uvloop
    seen = {
        "client": scope["client"],
        "scheme": scope["scheme"],
        "host": headers(scope).get("host"),
        "url": url(scope),
        "loop": loop,
    }
    yield ws_send(json.dumps(seen))
    try:
        async for message in receiver:
            yield ws_send(f"{type(message).__name__} {len(message)}")
    finally:
        gone = receiver.disconnected
        code = None if gone is None else gone.code
        server_apps.report(f"left {server_apps.connection_id(scope)} code={code}")


probe = websocket(on_disconnect=_on_disconnect, on_close=_on_close)(_probe)
behind_proxy = ProxyFixMiddleware(probe, mode="legacy", trusted_hops=1)
behind_proxy_on_granian = wrap_asgi_with_proxy_headers(probe, trusted_hosts="127.0.0.1")


async def proxied_or_not(scope, receive, send):
    """``/proxied...`` goes through ProxyFixMiddleware, every other path straight to the probe."""
    app = behind_proxy if scope.get("path", "").startswith("/proxied") else probe
    await app(scope, receive, send)


# -- helpers -------------------------------------------------------------------------------


def page_blocks(language: str) -> list[str]:
    """The text of each ```<language> block of docs/deployment.md, in order."""
    text = PAGE.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def page_toml(directory: Path) -> Path:
    """The page's one TOML block, written to ``directory/hypercorn.toml``, as the page says."""
    [text] = page_blocks("toml")
    path = directory / "hypercorn.toml"
    path.write_text(text, encoding="utf-8")
    return path


def toml_file(directory: Path, text: str) -> Path:
    path = directory / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def hello(ws) -> dict:
    """The probe's first message: what it sees of the connection."""
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def closed_by_server(ws) -> ConnectionClosed:
    """Wait for the server's close (no other message may come first); the exception."""
    with pytest.raises(ConnectionClosed) as info:
        message = await asyncio.wait_for(ws.recv(), TIMEOUT)
        pytest.fail(f"expected the server's close, got the message {message!r}")
    return info.value


def report_about(server, connection: str) -> list[str]:
    """The report lines about one connection, without their time stamps."""
    lines = [line.split(" ", 1)[1] for line in server.report()]
    return [line for line in lines if connection in line.split()]


async def raw_client(port: int, path: str, *, answer_pings: bool, duration: float):
    """A bare wsproto client that never sends a frame of its own. Returns what came, as
    ``(seconds since the accept, event name)``, ``"EOF"`` when the server closed the TCP
    connection; it answers pings with pongs only if ``answer_pings``. Stops after
    ``duration`` seconds or at EOF."""
    reader, writer = await asyncio.open_connection(HOST, port)
    connection = WSConnection(ConnectionType.CLIENT)
    writer.write(connection.send(Request(host=f"{HOST}:{port}", target=path)))
    events: list[tuple[float, str]] = []
    accepted: float | None = None
    deadline = time.monotonic() + duration
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(reader.read(65536), left)
            except asyncio.TimeoutError:
                break
            now = time.monotonic()
            if not data:
                events.append((now - (accepted or now), "EOF"))
                break
            connection.receive_data(data)
            for event in connection.events():
                if accepted is None:
                    accepted = now  # the first event is the AcceptConnection
                events.append((now - accepted, type(event).__name__))
                if isinstance(event, Ping) and answer_pings:
                    writer.write(connection.send(event.response()))
    finally:
        writer.close()
    return events


# -- the page's files, as hypercorn and nginx read them ------------------------------------


def test_the_page_toml_sets_what_the_page_says(tmp_path):
    config = Config.from_toml(page_toml(tmp_path))
    assert config.bind == ["10.0.0.11:8000"]
    assert (config.workers, config.worker_class) == (4, "uvloop")
    assert config.graceful_timeout == 10
    assert config.websocket_max_message_size == 65536
    assert config.websocket_ping_interval == 20
    assert config.read_timeout == 60
    assert config.keep_alive_timeout == 5  # not set: hypercorn's default


def test_the_page_runs_the_page_toml_with_hypercorn_c():
    commands = [line for block in page_blocks("bash") for line in block.splitlines()]
    assert "hypercorn -c hypercorn.toml examples.echo:app" in commands


def test_the_nginx_block_proxies_websockets_to_the_toml_bind(tmp_path):
    config = Config.from_toml(page_toml(tmp_path))
    [nginx] = page_blocks("nginx")
    for line in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        f"server {config.bind[0]};",
    ):
        assert line in nginx, line
    match = re.search(r"proxy_read_timeout (\d+)s;", nginx)
    assert match is not None
    assert int(match.group(1)) > config.websocket_ping_interval


# -- (a) the page's TOML under a real hypercorn --------------------------------------------


async def test_the_page_command_refuses_a_message_over_the_limit_with_1009(serve, tmp_path):
    # The page's command, with tests.serving's options: its --bind, --workers 0 and
    # --graceful-timeout override the file's (the file binds 10.0.0.11:8000, which would
    # not even start here).
    server = serve("examples.echo:app", args=("-c", str(page_toml(tmp_path))))
    async with connect(server.ws_url("/"), max_size=None, open_timeout=TIMEOUT) as ws:
        await ws.send("é" * 65536)  # 65536 characters, 131072 bytes: text counts characters
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "@ECHO: " + "é" * 65536
        await ws.send(b"x" * 65536)
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "@ECHO: " + repr(b"x" * 65536)
        await ws.send(b"x" * 65537)
        closed = await closed_by_server(ws)
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert (closed.rcvd.code, closed.rcvd.reason) == (1009, "")

    async with connect(server.ws_url("/"), max_size=None, open_timeout=TIMEOUT) as ws:
        await ws.send("x" * 65537)  # one character over
        closed = await closed_by_server(ws)
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (1009, "")


async def test_under_the_page_toml_the_app_sees_what_the_page_says(serve, tmp_path):
    server = serve(f"{MODULE}:probe", args=("-c", str(page_toml(tmp_path))))

    # worker_class = "uvloop" in the file: the app runs on uvloop.
    async with connect(server.ws_url("/?big"), max_size=None, open_timeout=TIMEOUT) as ws:
        assert (await hello(ws))["loop"] == "uvloop"
        await ws.send(b"x" * 65537)
        closed = await closed_by_server(ws)
    assert closed.rcvd is not None and closed.rcvd.code == 1009
    # The message never reached the handler; the app saw the client leave with 1006.
    await server.wait_for_report("on_close big")
    assert report_about(server, "big") == [
        "left big code=1006",
        "on_disconnect big",
        "on_close big",
    ]

    # websocket_ping_interval = 20: the first ping comes with the accept, not 20 s later.
    events = await raw_client(server.port, "/?pinged", answer_pings=False, duration=1.0)
    names = [name for _, name in events]
    assert names[0] == "AcceptConnection", events
    assert sorted(names[1:]) == ["Ping", "TextMessage"], events  # one ping, and the hello
    assert all(at < 0.5 for at, _ in events), events


# -- pings, read_timeout, keep_alive_timeout -----------------------------------------------


async def test_read_timeout_with_pings_drops_the_silent_client_and_keeps_the_live_one(
    serve, tmp_path
):
    settings = toml_file(tmp_path, "websocket_ping_interval = 0.25\nread_timeout = 1\n")
    server = serve(f"{MODULE}:probe", args=("-c", str(settings)))
    live, dead = await asyncio.gather(
        raw_client(server.port, "/?live", answer_pings=True, duration=2.0),
        raw_client(server.port, "/?dead", answer_pings=False, duration=3.0),
    )

    # Pings every 0.25 s from the accept on; pongs keep the live client in.
    pings = [at for at, name in live if name == "Ping"]
    assert "EOF" not in [name for _, name in live], live
    assert len(pings) >= 6, live
    gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
    assert all(0.15 <= gap <= 0.5 for gap in gaps), gaps

    # Pings are never checked; read_timeout is what drops the client that does not answer,
    # 1 s after the accept, without a close frame.
    [(dropped_at, last)] = dead[-1:]
    assert last == "EOF", dead
    assert 0.9 <= dropped_at <= 1.6, dead
    assert "CloseConnection" not in [name for _, name in dead], dead
    assert [name for _, name in dead].count("Ping") >= 3, dead
    await server.wait_for_report("on_close dead")
    assert report_about(server, "dead") == [
        "left dead code=1006",
        "on_disconnect dead",
        "on_close dead",
    ]


async def test_read_timeout_without_pings_drops_a_quiet_live_client(serve, tmp_path):
    server = serve(f"{MODULE}:probe", args=("-c", str(toml_file(tmp_path, "read_timeout = 1\n"))))
    async with connect(server.ws_url("/?quiet"), ping_interval=None, open_timeout=TIMEOUT) as ws:
        await hello(ws)
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        after = time.monotonic() - started
    assert info.value.rcvd is None and info.value.sent is None  # no close frame: 1006
    assert 0.8 <= after <= 1.6, after


async def test_keep_alive_timeout_leaves_an_open_websocket_alone(serve):
    server = serve(f"{MODULE}:probe", args=("--keep-alive", "1"))
    async with connect(server.ws_url("/?idle"), ping_interval=None, open_timeout=TIMEOUT) as ws:
        await hello(ws)
        # Real time on purpose: the keep-alive timer runs in the server process.
        await asyncio.sleep(2.0)  # twice the keep-alive timeout, with not a byte either way
        await ws.send("still here")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "str 10"


# -- shutdown ------------------------------------------------------------------------------


async def test_the_uvloop_worker_honours_the_graceful_timeout_on_every_python(serve):
    # With the asyncio worker on Python >= 3.12, hypercorn 0.18 never reaches its graceful
    # timeout (pgjones/hypercorn#308; tests/test_server_lifecycle.py). uvloop's
    # Server.wait_closed() does not wait for connections, so there it works everywhere.
    grace = 1
    server = serve(f"{server_apps.__name__}:stream", args=("-k", "uvloop"), graceful_timeout=grace)
    async with connect(server.ws_url("/?u"), open_timeout=TIMEOUT) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "n 0"
        signalled = time.monotonic()
        server.terminate()
        closed = None
        while closed is None:  # the stream flows on through the grace period
            try:
                await asyncio.wait_for(ws.recv(), grace + TIMEOUT)
            except ConnectionClosed as exc:
                closed = exc
        closed_after = time.monotonic() - signalled
    assert closed.rcvd is not None, "the server dropped the connection without a close frame"
    assert (closed.rcvd.code, closed.rcvd.reason) == (1012, "service restart")
    assert grace * 0.8 <= closed_after <= grace + 2, closed_after
    assert await server.wait_exit() == 0
    lines = report_about(server, "u")
    assert lines[0] == "stream u interrupted by CancelledError", lines
    assert lines[1].startswith("stream finally u after"), lines
    assert lines[2:] == ["on_close u"], lines  # the client did not leave: no on_disconnect


async def test_pings_hold_the_shutdown_until_the_next_ping_of_a_closed_connection(serve, tmp_path):
    # The connection closes at once, but hypercorn's ping loop sleeps until its next ping
    # (1.5 s after the accept) before it sees that: SIGTERM waits for it.
    interval = 1.5
    settings = toml_file(tmp_path, f"websocket_ping_interval = {interval}\n")
    pinging = serve(f"{MODULE}:probe", args=("-c", str(settings)), graceful_timeout=5)
    silent = serve(f"{MODULE}:probe", graceful_timeout=5)
    stopped_after = {}  # seconds from the accept to the server's exit
    for name, server in (("pinging", pinging), ("silent", silent)):
        async with connect(server.ws_url("/?gone"), open_timeout=TIMEOUT) as ws:
            accepted = time.monotonic()
            await hello(ws)
        await server.wait_for_report("on_close gone")
        server.terminate()
        assert await server.wait_exit() == 0
        stopped_after[name] = time.monotonic() - accepted
    assert interval - 0.3 <= stopped_after["pinging"] <= interval + 1.0, stopped_after
    assert stopped_after["silent"] <= 1.0, stopped_after


# -- (b) ProxyFixMiddleware over the network -----------------------------------------------


async def test_proxy_fix_gives_the_app_the_forwarded_client_scheme_and_host(serve):
    server = serve(f"{MODULE}:proxied_or_not")
    forwarded = {
        "X-Forwarded-For": "198.51.100.1, 203.0.113.7",  # the client wrote the first one
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "chat.example.com",
    }
    async with connect(
        server.ws_url("/proxied?p"), additional_headers=forwarded, open_timeout=TIMEOUT
    ) as ws:
        seen = await hello(ws)
    assert seen["client"] == ["203.0.113.7", 0]  # trusted_hops=1: the last entry, port 0
    assert seen["scheme"] == "https"  # as sent, not "wss"
    assert seen["host"] == "chat.example.com"
    assert seen["url"] == "wss://chat.example.com/proxied?p"  # url() maps https to wss

    async with connect(
        server.ws_url("/plain?n"), additional_headers=forwarded, open_timeout=TIMEOUT
    ) as ws:
        seen = await hello(ws)
    assert seen["client"][0] == "127.0.0.1" and seen["client"][1] != 0  # the TCP peer
    assert seen["scheme"] == "ws"
    assert seen["host"] == f"127.0.0.1:{server.port}"
    assert seen["url"] == f"ws://127.0.0.1:{server.port}/plain?n"


# -- the uvicorn equivalents ---------------------------------------------------------------


async def test_uvicorn_counts_bytes_closes_1009_with_a_reason_and_trusts_local_proxies(serve):
    server = serve(f"{MODULE}:probe", server="uvicorn", args=("--ws-max-size", "65536"))
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    async with connect(
        server.ws_url("/?uv"), additional_headers=forwarded, max_size=None, open_timeout=TIMEOUT
    ) as ws:
        seen = await hello(ws)
        await ws.send("é" * 32768)  # 65536 bytes: at the limit
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "str 32768"
        await ws.send("é" * 32769)  # 65538 bytes: over it, though hypercorn would take it
        closed = await closed_by_server(ws)
    # --proxy-headers is on by default for a proxy at 127.0.0.1, which this client is.
    assert seen["client"] == ["203.0.113.7", 0]
    assert seen["scheme"] == "wss"  # mapped for a WebSocket
    assert seen["host"] == f"127.0.0.1:{server.port}"  # no X-Forwarded-Host support
    assert closed.rcvd is not None and closed.rcvd.code == 1009
    assert "65536 bytes" in closed.rcvd.reason, closed.rcvd
    await server.wait_for_report("on_close uv")
    assert report_about(server, "uv")[0] == "left uv code=1009"


# -- the granian equivalents ---------------------------------------------------------------

MIB = 1024 * 1024


async def test_granian_limits_a_frame_to_16_mib_and_a_message_to_64_mib_in_bytes(serve):
    # granian 2.8 has no setting for either: its WebSocket library's defaults. Over them it
    # sends a close frame without a code (the client reads 1005) and the app sees the client
    # leave with 1005. A text counts its UTF-8 bytes, not its characters.
    server = serve(f"{MODULE}:probe", "granian")
    refused = {
        "frame": b"x" * (16 * MIB + 1),  # in one frame
        "text": "é" * (8 * MIB + 1),  # 8 Mi characters, 16 MiB + 2 bytes, in one frame
        "message": [b"x" * MIB] * 64 + [b"x"],  # 64 MiB + 1 in fragments of 1 MiB
    }
    for name, data in refused.items():
        async with connect(server.ws_url(f"/?{name}"), max_size=None, open_timeout=TIMEOUT) as ws:
            await hello(ws)
            try:
                await ws.send(data)
            except ConnectionClosed as exc:  # the close came while the client was sending
                closed = exc
            else:
                closed = await closed_by_server(ws)
        assert closed.rcvd is not None and (closed.rcvd.code, closed.rcvd.reason) == (1005, ""), (
            name
        )
        await server.wait_for_report(f"on_close {name}")
        assert report_about(server, name) == [
            f"left {name} code=1005",
            f"on_disconnect {name}",
            f"on_close {name}",
        ]
    async with connect(server.ws_url("/?fits"), max_size=None, open_timeout=TIMEOUT) as ws:
        await hello(ws)
        await ws.send([b"x" * MIB] * 16 + [b"x"])  # 16 MiB + 1, fragmented: a message may
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == f"bytes {16 * MIB + 1}"


def granian_options() -> list[str]:
    """The options ``granian --help`` lists (the first spelling of each)."""
    result = subprocess.run(
        [sys.executable, "-m", "granian", "--help"], capture_output=True, text=True, check=True
    )
    return re.findall(r"^  (--[a-z0-9-]+)", result.stdout, flags=re.MULTILINE)


def test_granian_has_no_websocket_setting_but_on_and_off_and_the_page_uses_real_options():
    # No message size, ping or timeout setting for WebSockets: only --ws/--no-ws. (The
    # keep-alive pings it has are HTTP/2's, --http2-keep-alive-*.)
    options = granian_options()
    assert [option for option in options if "ws" in option or "websocket" in option] == ["--ws"]
    assert [option for option in options if "ping" in option or "pong" in option] == []
    text = "\n".join(page_blocks("bash")).replace("\\\n", " ")
    [command] = [line for line in text.splitlines() if line.startswith("granian ")]
    used = re.findall(r"(--[a-z0-9-]+)", command)
    assert used and set(used) <= set(options), used


async def test_granian_never_pings_and_answers_the_clients_pings(serve):
    server = serve(f"{MODULE}:probe", "granian")
    events = await raw_client(server.port, "/?quiet", answer_pings=True, duration=1.0)
    assert [name for _, name in events] == ["AcceptConnection", "TextMessage"], events
    async with connect(server.ws_url("/?pinging"), open_timeout=TIMEOUT) as ws:
        await hello(ws)
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, TIMEOUT)  # answered: granian's library does it


async def test_granian_gives_the_peer_and_its_wrapper_the_forwarded_client(serve):
    # granian has no proxy-header option; granian.utils.proxies.wrap_asgi_with_proxy_headers
    # wraps the app instead, trusting the peers in trusted_hosts (127.0.0.1 by default).
    forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "https"}
    plain = serve(f"{MODULE}:probe", "granian")
    async with connect(
        plain.ws_url("/?p"), additional_headers=forwarded, open_timeout=TIMEOUT
    ) as ws:
        seen = await hello(ws)
    assert seen["client"][0] == "127.0.0.1" and isinstance(seen["client"][1], str)  # a str port
    assert seen["scheme"] == "ws"

    wrapped = serve(f"{MODULE}:behind_proxy_on_granian", "granian")
    async with connect(
        wrapped.ws_url("/rooms/1"), additional_headers=forwarded, open_timeout=TIMEOUT
    ) as ws:
        seen = await hello(ws)
    # the last address not trusted, port 0; https mapped to wss; X-Forwarded-Host not read
    assert seen["client"] == ["203.0.113.7", 0]
    assert seen["scheme"] == "wss"
    assert seen["url"] == f"wss://127.0.0.1:{wrapped.port}/rooms/1"


UNRUN_LOOP_SIGNAL = """
import asyncio, os, signal, sys
import uvloop
loop = uvloop.new_event_loop() if sys.argv[1] == "uvloop" else asyncio.new_event_loop()
heard = asyncio.Event()
loop.add_signal_handler(signal.SIGTERM, heard.set)  # as a granian worker does
loop.run_until_complete(asyncio.sleep(0))  # the lifespan startup, say
os.kill(os.getpid(), signal.SIGTERM)  # while the loop is stopped, as between two runs
try:
    loop.run_until_complete(asyncio.wait_for(heard.wait(), 1.0))
    print("heard")
except asyncio.TimeoutError:
    print("lost")
"""


@pytest.mark.parametrize(("loop", "outcome"), [("uvloop", "lost"), ("asyncio", "heard")])
def test_a_signal_that_comes_while_the_loop_is_stopped(loop, outcome):
    # Why a granian worker on uvloop can miss its SIGTERM: it installs its handler, runs the
    # lifespan startup, starts its Rust server (logging "Started worker-N") and only then
    # runs its loop again. A SIGTERM in between is lost under uvloop: that worker runs on
    # until --workers-kill-timeout kills it (no lifespan shutdown), or for ever without one.
    result = subprocess.run(
        [sys.executable, "-c", UNRUN_LOOP_SIGNAL, loop],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    )
    assert result.stdout == f"{outcome}\n"
