"""Websocket apps for the real-server tests, served as ``tests.server_apps:NAME``.

They report what happens on the server side, which the client cannot see, by appending
lines to the file named in the ``SHALLOT_WS_TEST_REPORT`` environment variable (set by
``tests.serving``). A connection's id is its query string (``ws://.../?a`` has id ``a``).
Importing this module does nothing else, so the tests may import its constants.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time

from shallot_ws import router, websocket, ws_close, ws_deny, ws_send

REPORT_ENV = "SHALLOT_WS_TEST_REPORT"

FLOOD_PAUSE = 1.0  # the flood handler sleeps this long before its first read
FLOOD_END = "end"  # the client's last frame: the flood handler answers "<count> <max>"
SECRET = "boom-secret-5e1f"  # the raiser's exception text, which must never reach the client
STREAM_INTERVAL = 0.05


def report(line: str) -> None:
    """Append ``"<time.time()> <line>"`` to the report file (if the server has one)."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with open(path, "a") as file:
        file.write(f"{time.time():.6f} {line}\n")


def connection_id(scope: dict) -> str:
    return scope.get("query_string", b"").decode("latin-1") or "-"


# -- (a) a flooding client against a handler that starts reading late ---------------------


@websocket
async def flood(scope, receiver):
    """Sleeps, then reads every frame, noting ``receiver.buffered`` at each read; on
    ``FLOOD_END`` answers with the number of frames before it and the largest buffer seen."""
    # Real time on purpose: a handler that reads late, in a server process (no virtual clock).
    await asyncio.sleep(FLOOD_PAUSE)
    count = 0
    most = 0
    async for frame in receiver:
        most = max(most, receiver.buffered)
        if frame == FLOOD_END:
            report(f"flood count={count} max_buffered_seen={most}")
            yield ws_send(f"{count} {most}")
            return
        count += 1


# -- (b) refusals in on_connect -------------------------------------------------------------


async def _closed(scope):
    report(f"on_close {connection_id(scope)}")


async def _deny_without_token(scope):
    return ws_deny(401, "no token")


async def _refuse(scope):
    return ws_close()


async def _never(scope, receiver):
    report(f"handler ran {connection_id(scope)}")
    yield ws_send("this connection should have been refused")


denied = websocket(on_connect=_deny_without_token, on_close=_closed)(_never)
refused = websocket(on_connect=_refuse, on_close=_closed)(_never)


# -- (c) a handler that raises ----------------------------------------------------------


@websocket
async def raiser(scope, receiver):
    """Answers the first frame, then raises an exception whose text holds ``SECRET``."""
    async for frame in receiver:
        yield ws_send(f"got {frame}")
        raise RuntimeError(f"{SECRET} while handling {frame!r}")


# -- (d), (f) hooks, and the disconnect the app sees ---------------------------------------


async def _hook_disconnect(scope):
    report(f"on_disconnect {connection_id(scope)}")


async def _hook_close(scope):
    report(f"on_close {connection_id(scope)}")


async def _hooked(scope, receiver):
    """Answers ``ok <frame>``; returns on ``finish``. Reports how its connection ended."""
    cid = connection_id(scope)
    try:
        async for frame in receiver:
            if frame == "finish":
                return
            yield ws_send(f"ok {frame}")
    finally:
        gone = receiver.disconnected
        if gone is None:
            report(f"handler end {cid} connected")
        else:
            report(f"handler end {cid} disconnect code={gone.code} reason={gone.reason!r}")


hooked = websocket(on_disconnect=_hook_disconnect, on_close=_hook_close)(_hooked)


# -- (e) a stream that only yields, for the server's shutdown -------------------------------


async def _stream(scope, receiver):
    cid = connection_id(scope)
    sent = 0
    try:
        while True:
            yield ws_send(f"n {sent}")
            sent += 1
            await asyncio.sleep(STREAM_INTERVAL)  # the stream's own pace, in a server process
    except BaseException as exc:
        report(f"stream {cid} interrupted by {type(exc).__name__}")
        raise
    finally:
        report(f"stream finally {cid} after {sent}")


stream = websocket(on_disconnect=_hook_disconnect, on_close=_hook_close)(_stream)


# -- a handler that waits without reading, with a long drain time ---------------------------

LINGER_DRAIN = 10.0  # longer than the server's graceful timeout in the tests


async def _lingering(scope, receiver):
    """Yields ``ready``, then waits without reading: only the drain timer (after
    ``LINGER_DRAIN`` s) or the server can stop it."""
    cid = connection_id(scope)
    try:
        yield ws_send("ready")
        await asyncio.Event().wait()
    finally:
        report(f"lingering finally {cid} disconnected={receiver.disconnected is not None}")


def _reporting_disconnects(app):
    """``app`` with a report line ``disconnect read <id>`` as soon as it has read the
    client's disconnect from the server (the driver's watcher, for a handler not reading)."""

    async def reporting(scope, receive, send):
        async def receive_and_report():
            event = await receive()
            if event["type"] == "websocket.disconnect":
                report(f"disconnect read {connection_id(scope)}")
            return event

        await app(scope, receive_and_report, send)

    return reporting


lingering = _reporting_disconnects(
    websocket(on_disconnect=_hook_disconnect, on_close=_hook_close, drain_timeout=LINGER_DRAIN)(
        _lingering
    )
)


# -- lifespan: startup before the first connection, shutdown at SIGTERM, a failed startup ---


@contextlib.asynccontextmanager
async def _reported_lifespan(app):
    report(f"lifespan startup {type(app).__name__}")
    yield
    report(f"lifespan shutdown {type(app).__name__}")


@contextlib.asynccontextmanager
async def _failing_lifespan(app):
    raise ConnectionError(LIFESPAN_FAILURE)
    yield  # pragma: no cover - never reached


async def _greet(scope, receiver):
    report(f"connection {connection_id(scope)}")
    yield ws_send("hello")


LIFESPAN_FAILURE = "broker down 7c1a"
lifespan_app = websocket(lifespan=_reported_lifespan)(_greet)
lifespan_router = router([("/greet", _greet)], lifespan=_reported_lifespan)
failing_lifespan_app = websocket(lifespan=_failing_lifespan)(_greet)


# -- (f) a stream that only yields, beside an echo: the loop must keep turning -------------


async def _spin(scope, receiver):
    """Yields as fast as the server takes it, never reads, never sleeps."""
    report(f"spin started {connection_id(scope)}")
    n = 0
    while True:
        n += 1
        yield ws_send(f"spin {n}")


async def _echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


spin_and_echo = router(
    [
        ("/spin", websocket(on_disconnect=_hook_disconnect, on_close=_hook_close)(_spin)),
        ("/echo", websocket(on_close=_hook_close)(_echo)),
    ]
)


BIG = "x" * 1024  # one message of the unread stream


async def _unread(scope, receiver):
    """Streams big messages to a client that has stopped reading: sends soon block."""
    report(f"unread started {connection_id(scope)}")
    while True:
        yield ws_send(BIG)


unread_stream = websocket(on_close=_hook_close)(_unread)


# -- wrap_heartbeat: a client that stops answering pings ------------------------------------


async def _heartbeat_echo(scope, receiver):
    async for frame in receiver:
        yield ws_send(frame)


def _heartbeat_app():
    from shallot_ws import compose, wrap_heartbeat

    return websocket(on_close=_closed)(compose(wrap_heartbeat(0.3, 0.2))(_heartbeat_echo))


heartbeat = _heartbeat_app()


# -- a faithful echo, for the Autobahn fuzzing client (tests/test_autobahn.py) -------------


@websocket
async def mirror(scope, receiver):
    """Sends every frame back unchanged, text as text and binary as binary.

    ``examples.echo`` answers ``@ECHO: <frame>`` (and text for a binary frame), which the
    fuzzing client counts as a failed echo in almost every case; this is the same code path
    (the ``websocket`` decorator on a handler that reads and yields) without the prefix.
    """
    async for message in receiver:
        yield ws_send(message)


# -- a raw ASGI probe of the server's send: does it suspend, and after the client left? -----

PROBE_SENDS = 100  # sends in a row, counted in loop turns


async def _sends_in_a_row(send) -> tuple[str, int]:
    """Send ``PROBE_SENDS`` messages in a row while a task counts loop turns: what the sends
    did (``returned`` or the name of what the first one raised) and the turns taken."""
    turns = 0
    counting = True

    async def count() -> None:
        nonlocal turns
        while counting:
            turns += 1
            await asyncio.sleep(0)  # one loop turn: the counter itself

    counter = asyncio.ensure_future(count())
    await asyncio.sleep(0)  # the counter's first turn
    outcome = "returned"
    for index in range(PROBE_SENDS):
        try:
            await send({"type": "websocket.send", "text": f"m {index}"})
        except Exception as exc:  # what the server raises is the finding
            outcome = f"raised {type(exc).__name__}"
            break
    counting = False
    await counter
    return outcome, turns


async def send_probe(scope, receive, send):
    """``/open``: ``PROBE_SENDS`` sends to a connected client, then close 1000. ``/left``:
    ``ready``, then waits for the client's disconnect and sends ``PROBE_SENDS`` times. Each
    reports ``<path> <id> <outcome> turns=<loop turns>`` (1 turn: no send suspended)."""
    if scope["type"] != "websocket":
        return
    cid = connection_id(scope)
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    if scope["path"] == "/open":
        outcome, turns = await _sends_in_a_row(send)
        report(f"open {cid} {outcome} turns={turns}")
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "websocket.send", "text": "ready"})
    event = await receive()
    assert event["type"] == "websocket.disconnect", event
    outcome, turns = await _sends_in_a_row(send)
    report(f"left {cid} {outcome} turns={turns}")


async def scope_probe(scope, receive, send):
    """Accepts and sends, as JSON, what the server put in the scope: the ASGI spec version,
    the extensions it offers, and the client address with the type of its port."""
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    host, port = scope["client"]
    seen = {
        "spec_version": scope["asgi"].get("spec_version"),
        "extensions": sorted(scope.get("extensions") or {}),
        "client": [host, type(port).__name__],
    }
    await send({"type": "websocket.send", "text": json.dumps(seen)})
    await send({"type": "websocket.close", "code": 1000})
