"""shallot_ws.observability without an exporter: what ``instrument`` counts per route, how it
tells the outcome, ``wrap_dropped_frames``, and the numbers of a watched ``Broadcast``."""

from __future__ import annotations

import asyncio
import json

import pytest

from shallot_ws import (
    Broadcast,
    BroadcastError,
    ConfigError,
    ConfigTypeError,
    compose,
    route,
    router,
    websocket,
    ws_close,
    ws_deny,
    ws_send,
)
from shallot_ws.lifecycle import Outcome
from shallot_ws.observability import (
    ALL_CHANNELS,
    DEFAULT_BUCKETS,
    UNROUTED,
    Ending,
    Histogram,
    Metrics,
    ending,
    instrument,
    payload_size,
    wrap_dropped_frames,
)
from shallot_ws.testing import HandshakeRefused, connect, virtual_time

FINISHED, CLOSED, DISCONNECTED, FAILED = (
    Outcome.FINISHED,
    Outcome.CLOSED,
    Outcome.DISCONNECTED,
    Outcome.FAILED,
)


async def echo(scope, receiver):
    async for message in receiver:
        if message == "close":
            yield ws_close(4000, "asked to")
        if message == "return":
            return
        if message == "raise":
            raise ValueError("the handler broke")
        yield ws_send(message)


def numbers(stats):
    """A route's counters, as one comparable dict."""
    return {
        "open": stats.open,
        "frames": (stats.frames_received, stats.frames_sent),
        "bytes": (stats.bytes_received, stats.bytes_sent),
        "dropped": stats.frames_dropped,
        "ended": dict(stats.ended),
        "denied": dict(stats.denied),
    }


# -- the ending of a connection, from what the wrapper saw (pure) ---------------------------


@pytest.mark.parametrize(
    ("closed", "left", "raised", "cancelled", "expected"),
    [
        (None, (4001, "bye"), False, False, Ending(DISCONNECTED, 4001, "bye")),
        (None, (1006, ""), True, False, Ending(DISCONNECTED, 1006)),  # raised after it left
        ((1001, "server shutdown"), None, False, True, Ending(FAILED, 1001, "server shutdown")),
        ((1011, ""), None, False, False, Ending(FAILED, 1011)),
        ((1000, ""), None, True, False, Ending(FAILED, 1000)),  # closed, then the app raised
        ((1000, ""), None, False, False, Ending(FINISHED, 1000)),
        ((4000, "asked to"), None, False, False, Ending(CLOSED, 4000, "asked to")),
        (None, None, True, False, Ending(FAILED, 1006)),
        (None, None, False, True, Ending(FAILED, 1006)),
        (None, None, False, False, Ending(DISCONNECTED, 1006)),
    ],
)
def test_ending_follows_the_table_of_the_module(closed, left, raised, cancelled, expected):
    assert ending(closed, left, raised=raised, cancelled=cancelled) == expected


@pytest.mark.parametrize(
    ("message", "size"),
    [
        ({"type": "websocket.send", "text": "hi"}, 2),
        ({"type": "websocket.send", "text": "hé"}, 3),  # UTF-8 bytes, not characters
        ({"type": "websocket.receive", "text": "😀"}, 4),
        ({"type": "websocket.receive", "bytes": b"\x00\x01\x02", "text": None}, 3),
        ({"type": "websocket.receive", "bytes": None, "text": "abc"}, 3),  # hypercorn's shape
        ({"type": "websocket.receive"}, 0),
    ],
)
def test_payload_size_counts_utf8_bytes_of_text_and_bytes_as_they_are(message, size):
    assert payload_size(message) == size


def test_a_histogram_counts_a_value_on_a_bound_into_that_bound():
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        histogram.observe(value)
    assert histogram.counts == [2, 2, 1]
    assert histogram.cumulative() == [(0.1, 2), (1.0, 4), (float("inf"), 5)]
    assert (histogram.count, histogram.sum) == (5, 8.65)


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "text"),
    [
        (lambda: Metrics(buckets=()), ConfigError, "Metrics expected buckets as positive "),
        (lambda: Metrics(buckets=(1, 0.5)), ConfigError, "Metrics expected buckets in increasing"),
        (lambda: Metrics(buckets=(1, float("inf"))), ConfigError, "Metrics expected buckets as "),
        (lambda: Metrics(buckets=5), ConfigTypeError, "Metrics expected buckets as numbers, got 5"),
        (lambda: instrument(router([])), ConfigError, "instrument expected metrics, tracing or"),
        (
            lambda: instrument(42, Metrics()),
            ConfigTypeError,
            "instrument expected an ASGI app, got",
        ),
        (lambda: instrument(router([]), {}), ConfigTypeError, "instrument expected a Metrics as"),
        (
            lambda: instrument(router([]), tracing=1),
            ConfigTypeError,
            "instrument expected a tracer",
        ),
        (
            lambda: instrument(router([]), Metrics(), route="/x"),
            ConfigError,
            "instrument takes a route for a single app; a router names its own routes",
        ),
    ],
)
def test_wrong_settings_are_refused_at_once(make, error, text):
    with pytest.raises(error) as info:
        make()
    assert str(info.value).startswith(text)


def test_metrics_defaults():
    metrics = Metrics()
    assert metrics.buckets == DEFAULT_BUCKETS
    assert metrics.routes == {} and metrics.channels == {}
    assert repr(metrics) == "<Metrics of 0 routes, 0 channel labels>"


# -- connections: counted per route pattern, by outcome and close code ----------------------


async def test_frames_and_bytes_are_counted_per_route_pattern_live_and_exactly():
    metrics = Metrics()
    app = instrument(router([("/rooms/{room}", echo), ("/echo", echo)]), metrics)
    async with connect(app, "/rooms/blue") as blue, connect(app, "/rooms/red") as red:
        await blue.send("hé")  # 3 bytes each way
        assert await blue.receive() == "hé"
        await red.send(b"\x00" * 10)
        assert await red.receive() == b"\x00" * 10
        assert list(metrics.routes) == ["/rooms/{room}"]  # never "/rooms/blue"
        assert numbers(metrics.routes["/rooms/{room}"]) == {
            "open": 2,
            "frames": (2, 2),
            "bytes": (13, 13),
            "dropped": 0,
            "ended": {},
            "denied": {},
        }
        await blue.send("return")
        assert await blue.wait_closed() == 1000
    stats = metrics.routes["/rooms/{room}"]
    assert numbers(stats) == {
        "open": 0,
        "frames": (3, 2),
        "bytes": (19, 13),
        "dropped": 0,
        "ended": {(FINISHED, 1000): 1, (DISCONNECTED, 1000): 1},  # the client's default code
        "denied": {},
    }


@pytest.mark.parametrize(
    ("frame", "code", "outcome"),
    [("return", 1000, FINISHED), ("close", 4000, CLOSED), ("raise", 1011, FAILED)],
)
async def test_the_apps_close_decides_the_outcome(frame, code, outcome):
    metrics = Metrics()
    app = instrument(websocket(echo), metrics, route="/echo")
    async with connect(app, "/anything", raise_app_exceptions=False) as ws:
        await ws.send(frame)
        assert await ws.wait_closed() == code
    assert metrics.routes["/echo"].ended == {(outcome, code): 1}


async def test_a_client_that_leaves_first_is_disconnected_with_its_code():
    metrics = Metrics()
    app = instrument(websocket(echo), metrics)
    async with connect(app) as ws:
        await ws.send("hi")
        await ws.receive()
        await ws.close(4001, "gone")
    assert metrics.routes[UNROUTED].ended == {(DISCONNECTED, 4001): 1}


async def test_the_duration_is_from_the_accept_to_the_end_on_the_loops_clock():
    metrics = Metrics(buckets=(1, 10))
    durations = []
    metrics.on_duration(lambda route, seconds: durations.append((route, seconds)))

    async def slow(scope, receiver):
        await asyncio.sleep(2.5)
        yield ws_send("done")

    app = instrument(router([("/slow", slow)]), metrics)
    async with virtual_time(), connect(app, "/slow", timeout=10) as ws:
        assert await ws.receive() == "done"
        assert await ws.wait_closed() == 1000
    histogram = metrics.routes["/slow"].duration
    assert durations == [("/slow", 2.5)]
    assert (histogram.counts, histogram.sum, histogram.count) == ([0, 1, 0], 2.5, 1)


async def test_a_send_the_server_refuses_with_oserror_is_the_client_leaving():
    metrics = Metrics()

    @websocket
    async def stream(scope, receiver):
        while True:
            yield ws_send("tick")

    inbound: asyncio.Queue = asyncio.Queue()
    inbound.put_nowait({"type": "websocket.connect"})
    sent = []

    async def send(message):
        if message["type"] == "websocket.send" and len(sent) == 3:
            inbound.put_nowait({"type": "websocket.disconnect", "code": 1006})
            raise OSError("the client is gone")  # as uvicorn does
        sent.append(message["type"])

    app = instrument(stream, metrics, route="/stream")
    await app({"type": "websocket", "path": "/stream"}, inbound.get, send)
    stats = metrics.routes["/stream"]
    assert sent == ["websocket.accept", "websocket.send", "websocket.send"]
    assert numbers(stats)["frames"] == (0, 3)  # counted as handed over: the third was refused
    assert stats.ended == {(DISCONNECTED, 1006): 1}


async def test_a_server_shutdown_is_a_failure_with_1012():
    metrics = Metrics()
    ready = asyncio.Event()

    @websocket
    async def waiting(scope, receiver):
        ready.set()
        await asyncio.Event().wait()
        yield ws_send("never")

    inbound: asyncio.Queue = asyncio.Queue()
    inbound.put_nowait({"type": "websocket.connect"})
    sent = []

    async def send(message):
        sent.append((message["type"], message.get("code")))

    app = instrument(waiting, metrics, route="/wait")
    task = asyncio.create_task(app({"type": "websocket", "path": "/wait"}, inbound.get, send))
    await ready.wait()
    assert metrics.routes["/wait"].open == 1
    task.cancel()  # what the server does at the end of its graceful timeout
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sent == [("websocket.accept", None), ("websocket.close", 1012)]
    assert numbers(metrics.routes["/wait"])["open"] == 0
    assert metrics.routes["/wait"].ended == {(FAILED, 1012): 1}


# -- refused handshakes, by HTTP status -------------------------------------------------------


async def test_refusals_are_counted_by_status_under_the_route_that_refused():
    metrics = Metrics()

    async def token(scope):
        if b"token=ok" not in scope["query_string"]:
            return ws_deny(401, "a token, please")

    async def closed(scope):
        return ws_close()

    async def broken(scope):
        raise RuntimeError("the hook broke")

    app = instrument(
        router(
            [
                route("/private", echo, guards=[token]),
                route("/closed", echo, on_connect=closed),
                route("/broken", echo, on_connect=broken),
            ]
        ),
        metrics,
    )
    for path, status in [
        ("/private", 401),
        ("/private", 401),
        ("/closed", 403),
        ("/broken", 500),
        ("/nowhere", 404),
    ]:
        with pytest.raises(HandshakeRefused) as refused:
            async with connect(app, path, raise_app_exceptions=False):
                pass
        assert refused.value.status == status
    async with connect(app, "/private?token=ok") as ws:
        await ws.send("in")
        assert await ws.receive() == "in"
    assert {name: dict(stats.denied) for name, stats in metrics.routes.items()} == {
        "/private": {401: 2},
        "/closed": {403: 1},
        "/broken": {500: 1},
        UNROUTED: {404: 1},  # no route: never the raw path
    }
    assert metrics.routes["/private"].ended == {(DISCONNECTED, 1000): 1}
    assert all(stats.open == 0 for stats in metrics.routes.values())


async def test_an_app_that_raises_before_answering_counts_as_refused_with_500():
    metrics = Metrics()

    async def broken(scope, receive, send):
        await receive()
        raise RuntimeError("no answer")

    app = instrument(broken, metrics, route="/raw")
    inbound: asyncio.Queue = asyncio.Queue()
    inbound.put_nowait({"type": "websocket.connect"})
    with pytest.raises(RuntimeError, match="no answer"):
        await app({"type": "websocket", "path": "/raw"}, inbound.get, None)
    assert numbers(metrics.routes["/raw"])["denied"] == {500: 1}


async def test_http_and_lifespan_pass_through_untouched():
    metrics = Metrics()
    seen = []

    async def fallback(scope, receive, send):
        seen.append(scope["type"])

    app = instrument(router([("/echo", echo)], fallback=fallback), metrics)
    await app({"type": "http", "path": "/"}, None, None)
    await app({"type": "lifespan"}, None, None)
    assert seen == ["http", "lifespan"]
    assert metrics.routes == {}


# -- frames dropped by the stall policy -----------------------------------------------------


async def test_wrap_dropped_frames_counts_what_the_stall_policy_dropped():
    metrics = Metrics()

    @websocket(max_buffered=2, stall_timeout=0.05, drain_timeout=0.05)
    @wrap_dropped_frames
    async def deaf(scope, receiver):
        while True:
            yield ws_send("tick")
            await asyncio.sleep(0.01)

    app = instrument(router([("/deaf", deaf)]), metrics)
    async with virtual_time(), connect(app, "/deaf", timeout=2, queue_size=2) as ws:
        for index in range(6):  # 2 buffered, 2 in the server's queue, then pushed back
            await ws.send(str(index))
        await ws.receive()
        await ws.close()
    stats = metrics.routes["/deaf"]
    assert stats.frames_received == 6
    assert stats.frames_dropped == 4  # as tests/test_receiver.py: dropped to see it leave


async def test_wrap_dropped_frames_without_instrument_counts_nothing_and_composes():
    handler = compose(wrap_dropped_frames)(echo)
    async with connect(websocket(handler)) as ws:
        await ws.send("hi")
        assert await ws.receive() == "hi"


# -- a watched Broadcast ------------------------------------------------------------------


def channels(metrics):
    return {
        label: {
            "published": stats.published,
            "delivered": stats.delivered,
            "dropped": stats.dropped,
            "overflowed": stats.overflowed,
            "subscribers": stats.subscribers,
            "lag": stats.lag,
        }
        for label, stats in metrics.channels.items()
    }


async def test_a_watched_broadcast_is_counted_per_channel_label():
    metrics = Metrics()
    broadcast = Broadcast("memory://")
    metrics.watch(broadcast, channel=lambda name: name.split(":")[0])
    async with (
        broadcast.subscribe("room:blue", buffer=2) as slow,
        broadcast.subscribe("room:blue") as fast,
        broadcast.subscribe("room:red", buffer=1, policy="end") as ended,
        broadcast.subscribe("news") as news,
    ):
        for number in range(3):
            await broadcast.publish("room:blue", number)
        assert [fast.take() for _ in range(3)] == [0, 1, 2]
        await broadcast.publish("room:red", "a")
        await broadcast.publish("room:red", "b")  # over the buffer of 1: ended
        assert ended.overflowed and ended.ended
        await broadcast.publish("other", "nobody listens")
        assert channels(metrics) == {
            "room": {
                "published": 5,
                "delivered": 8,  # 3 to each blue subscriber, 2 to the red one
                "dropped": 2,  # one by slow's drop_oldest, one by ended's overflow
                "overflowed": 1,
                "subscribers": 2,  # ended no longer counts
                "lag": 2,  # slow holds 2 it has not taken
            },
            "news": {
                "published": 0,
                "delivered": 0,
                "dropped": 0,
                "overflowed": 0,
                "subscribers": 1,
                "lag": 0,
            },
            "other": {
                "published": 1,
                "delivered": 0,
                "dropped": 0,
                "overflowed": 0,
                "subscribers": 0,
                "lag": 0,
            },
        }
        assert slow.take() == 1 and metrics.channels["room"].lag == 1
        assert news.buffered == 0
    # the subscriptions left: their numbers stay, the gauges fall
    assert channels(metrics)["room"] == {
        "published": 5,
        "delivered": 8,
        "dropped": 2,
        "overflowed": 1,
        "subscribers": 0,
        "lag": 0,
    }
    assert channels(metrics)["news"]["subscribers"] == 0


async def test_by_default_every_channel_is_one_label_and_a_failed_publish_is_not_counted():
    metrics = Metrics()
    broadcast = Broadcast("memory://")
    metrics.watch(broadcast)
    await broadcast.publish("room:blue", json.dumps({"text": "hi"}))
    await broadcast.publish("room:red", "hi")
    await broadcast.aclose()
    with pytest.raises(BroadcastError):
        await broadcast.publish("room:blue", "late")
    assert list(metrics.channels) == [ALL_CHANNELS]
    assert metrics.channels[ALL_CHANNELS].published == 2


async def test_a_broadcast_is_watched_once_and_its_label_must_be_a_str():
    metrics = Metrics()
    broadcast = Broadcast("memory://")
    metrics.watch(broadcast, channel=lambda name: len(name))
    with pytest.raises(ConfigError) as info:
        Metrics().watch(broadcast)
    assert str(info.value) == "Broadcast('memory://', keep=0) is watched already"
    with pytest.raises(ConfigTypeError) as info:
        await broadcast.publish("room", "hi")
    assert str(info.value) == "watch expected the channel function to return a str label, got 4"
    with pytest.raises(ConfigTypeError) as info:
        Metrics().watch(Broadcast("memory://"), channel="room")
    assert str(info.value) == "watch expected a function as channel, got 'room'"
