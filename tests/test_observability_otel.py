"""OpenTelemetry: the metrics read through the SDK's in-memory reader, and the span of each
connection through its in-memory exporter (attributes, propagation, events, errors)."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, get_tracer

from shallot_ws import Broadcast, ConfigTypeError, route, router, websocket, ws_deny, ws_send
from shallot_ws.observability import Metrics, instrument
from shallot_ws.observability.otel import INSTRUMENT_NAMES, Tracing, observe
from shallot_ws.testing import HandshakeRefused, connect, virtual_time

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


async def divide(scope, receiver):
    async for message in receiver:
        yield ws_send(str(100 // int(message)))


async def needs_token(scope):
    if b"token" not in scope["query_string"]:
        return ws_deny(401, "a token, please")


async def broken_hook(scope):
    raise RuntimeError("the hook broke")


TABLE = [
    route("/rooms/{room}", echo),
    route("/divide", divide),
    route("/private", echo, guards=[needs_token]),
    route("/broken", echo, on_connect=broken_hook),
]


@pytest.fixture
def spans():
    """A tracer provider whose finished spans are kept in memory: (provider, exporter)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def collected(reader: InMemoryMetricReader) -> dict[str, dict[tuple, object]]:
    """Every metric the reader collects now: name -> {sorted attributes: value}; a
    histogram's value is (count, sum, bucket counts)."""
    found: dict[str, dict[tuple, object]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = found.setdefault(metric.name, {})
                for point in metric.data.data_points:
                    key = tuple(sorted(point.attributes.items()))
                    if hasattr(point, "bucket_counts"):
                        points[key] = (point.count, point.sum, tuple(point.bucket_counts))
                    else:
                        points[key] = point.value
    return found


# -- metrics ----------------------------------------------------------------------------------


async def test_the_metrics_are_read_by_the_in_memory_reader_exactly():
    metrics = Metrics(buckets=(1, 10))
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    observe(metrics, provider)
    broadcast = Broadcast("memory://")
    metrics.watch(broadcast, channel=lambda name: name.split(":")[0])
    app = instrument(router(TABLE), metrics)
    blue = ("http.route", "/rooms/{room}")
    async with virtual_time() as clock:
        async with broadcast.subscribe("room:blue") as subscription:
            await broadcast.publish("room:blue", "hi")
            async with connect(app, "/rooms/blue") as ws:
                await ws.send("hé")
                assert await ws.receive() == "hé"
                await clock.advance(3)
                now = collected(reader)
                assert now["shallot_ws.connections.open"] == {(blue,): 1}
                assert now["shallot_ws.frames"] == {
                    (blue, ("network.io.direction", "receive")): 1,
                    (blue, ("network.io.direction", "transmit")): 1,
                }
                assert now["shallot_ws.io"] == {
                    (blue, ("network.io.direction", "receive")): 3,
                    (blue, ("network.io.direction", "transmit")): 3,
                }
                assert now["shallot_ws.broadcast.lag"] == {
                    (("messaging.destination.template", "room"),): 1
                }
                assert subscription.take() == "hi"
            with pytest.raises(HandshakeRefused):
                async with connect(app, "/private"):
                    pass
            with pytest.raises(HandshakeRefused):
                async with connect(app, "/nowhere"):
                    pass
        after = collected(reader)
    assert set(after) == set(INSTRUMENT_NAMES)
    room = (("messaging.destination.template", "room"),)
    assert {name: after[name] for name in INSTRUMENT_NAMES} == {
        "shallot_ws.connections.open": {(blue,): 0, (("http.route", "/private"),): 0, (): 0},
        "shallot_ws.connections.ended": {
            (blue, ("shallot_ws.close_code", 1000), ("shallot_ws.outcome", "disconnected")): 1
        },
        "shallot_ws.handshakes.denied": {
            (("http.response.status_code", 401), ("http.route", "/private")): 1,
            (("http.response.status_code", 404),): 1,  # no route: no http.route
        },
        "shallot_ws.frames": {
            (blue, ("network.io.direction", "receive")): 1,
            (blue, ("network.io.direction", "transmit")): 1,
            (("http.route", "/private"), ("network.io.direction", "receive")): 0,
            (("http.route", "/private"), ("network.io.direction", "transmit")): 0,
            (("network.io.direction", "receive"),): 0,
            (("network.io.direction", "transmit"),): 0,
        },
        "shallot_ws.io": {
            (blue, ("network.io.direction", "receive")): 3,
            (blue, ("network.io.direction", "transmit")): 3,
            (("http.route", "/private"), ("network.io.direction", "receive")): 0,
            (("http.route", "/private"), ("network.io.direction", "transmit")): 0,
            (("network.io.direction", "receive"),): 0,
            (("network.io.direction", "transmit"),): 0,
        },
        "shallot_ws.dropped_frames": {(blue,): 0, (("http.route", "/private"),): 0, (): 0},
        "shallot_ws.connection.duration": {(blue,): (1, 3.0, (0, 1, 0))},
        "shallot_ws.broadcast.published": {room: 1},
        "shallot_ws.broadcast.delivered": {room: 1},
        "shallot_ws.broadcast.dropped": {room: 0},
        "shallot_ws.broadcast.overflowed": {room: 0},
        "shallot_ws.broadcast.subscribers": {room: 0},
        "shallot_ws.broadcast.lag": {room: 0},
    }
    provider.shutdown()


def test_observe_wants_a_metrics():
    with pytest.raises(ConfigTypeError) as info:
        observe({}, MeterProvider())
    assert str(info.value) == "observe expected a Metrics, got {}"


# -- traces -----------------------------------------------------------------------------------


async def test_a_connection_is_one_server_span_child_of_the_handshakes_traceparent(spans):
    provider, exporter = spans
    app = instrument(router(TABLE), tracing=Tracing(provider))
    headers = {"traceparent": TRACEPARENT, "user-agent": "doc-client/1"}
    async with connect(app, "/rooms/blue?secret=1", headers=headers) as ws:
        await ws.send("hé")
        assert await ws.receive() == "hé"
        await ws.close(4001, "bye")
    [span] = exporter.get_finished_spans()
    assert span.name == "GET /rooms/{room}"
    assert span.kind is SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert f"{span.parent.span_id:016x}" == PARENT_ID and span.parent.is_remote
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        "http.request.method": "GET",
        "http.route": "/rooms/{room}",
        "url.path": "/rooms/blue",  # the query string, which may hold a token, is left out
        "url.scheme": "ws",
        "network.protocol.version": "1.1",
        "server.address": "testserver",
        "server.port": 80,
        "client.address": "127.0.0.1",
        "client.port": 50000,
        "user_agent.original": "doc-client/1",
        "http.response.status_code": 101,
        "shallot_ws.outcome": "disconnected",
        "shallot_ws.close_code": 4001,
        "shallot_ws.close_reason": "bye",
        "shallot_ws.frames.received": 1,
        "shallot_ws.frames.sent": 1,
        "shallot_ws.bytes.received": 3,
        "shallot_ws.bytes.sent": 3,
    }
    assert span.events == ()  # no message events unless asked for


async def test_without_a_traceparent_the_span_is_a_root(spans):
    provider, exporter = spans
    app = instrument(websocket(echo), tracing=Tracing(provider))
    async with connect(app, "/x") as ws:
        await ws.send("a")
        await ws.receive()
    [span] = exporter.get_finished_spans()
    assert span.parent is None
    assert span.name == "GET"  # no route known: no http.route either
    assert "http.route" not in span.attributes


async def test_message_events_number_each_direction(spans):
    provider, exporter = spans
    app = instrument(router(TABLE), tracing=Tracing(provider, message_events=True))
    async with connect(app, "/rooms/blue") as ws:
        for frame in ("one", b"\x00\x01"):
            await ws.send(frame)
            assert await ws.receive() == frame
    [span] = exporter.get_finished_spans()
    assert [(event.name, dict(event.attributes)) for event in span.events] == [
        ("message", {"message.type": kind, "message.id": ident, "message.uncompressed_size": size})
        for kind, ident, size in [
            ("RECEIVED", 1, 3),
            ("SENT", 1, 3),
            ("RECEIVED", 2, 2),
            ("SENT", 2, 2),
        ]
    ]


async def test_a_handler_error_sets_the_status_and_is_recorded_once(spans):
    provider, exporter = spans
    inner = get_tracer("the app's own", tracer_provider=provider)

    async def divide_traced(scope, receiver):
        async for message in receiver:
            with inner.start_as_current_span("divide"):
                result = 100 // int(message)
            yield ws_send(str(result))

    app = instrument(router([("/divide", divide_traced)]), Metrics(), tracing=Tracing(provider))
    async with connect(app, "/divide", raise_app_exceptions=False) as ws:
        await ws.send("4")
        assert await ws.receive() == "25"
        await ws.send("0")
        assert await ws.wait_closed() == 1011
    [ok, failed, connection] = exporter.get_finished_spans()
    assert ok.parent.span_id == connection.context.span_id  # the handler's spans are children
    assert failed.parent.span_id == connection.context.span_id
    assert connection.status.status_code is StatusCode.ERROR
    assert connection.status.description == "ZeroDivisionError"
    assert connection.attributes["error.type"] == "ZeroDivisionError"
    assert connection.attributes["shallot_ws.outcome"] == "failed"
    assert connection.attributes["shallot_ws.close_code"] == 1011
    exceptions = [event for event in connection.events if event.name == "exception"]
    assert [event.attributes["exception.type"] for event in exceptions] == ["ZeroDivisionError"]
    assert exceptions[0].attributes["exception.message"] == "integer division or modulo by zero"


async def test_refusals_carry_their_status_and_a_hook_error_is_recorded_once(spans):
    provider, exporter = spans
    app = instrument(router(TABLE), tracing=Tracing(provider))
    for path in ("/private", "/broken"):
        with pytest.raises(HandshakeRefused):
            async with connect(app, path, raise_app_exceptions=False):
                pass
    private, broken = exporter.get_finished_spans()
    assert private.name == "GET /private"
    assert private.attributes["http.response.status_code"] == 401
    assert private.status.status_code is StatusCode.UNSET  # a 4xx is the client's
    assert "shallot_ws.outcome" not in private.attributes  # never accepted
    assert broken.attributes["http.response.status_code"] == 500
    assert broken.status.status_code is StatusCode.ERROR
    assert broken.attributes["error.type"] == "RuntimeError"
    exceptions = [event for event in broken.events if event.name == "exception"]
    assert [event.attributes["exception.message"] for event in exceptions] == ["the hook broke"]


async def test_a_server_shutdown_ends_the_span_as_failed_without_an_error(spans):
    provider, exporter = spans
    ready = asyncio.Event()

    @websocket
    async def waiting(scope, receiver):
        ready.set()
        await asyncio.Event().wait()
        yield ws_send("never")

    inbound: asyncio.Queue = asyncio.Queue()
    inbound.put_nowait({"type": "websocket.connect"})

    async def send(message):
        pass

    app = instrument(waiting, tracing=Tracing(provider), route="/wait")
    task = asyncio.create_task(app({"type": "websocket", "path": "/wait"}, inbound.get, send))
    await ready.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [span] = exporter.get_finished_spans()
    assert span.attributes["shallot_ws.outcome"] == "failed"
    assert span.attributes["shallot_ws.close_code"] == 1012
    assert span.status.status_code is StatusCode.UNSET
    assert not span.events


def test_tracing_checks_its_options():
    with pytest.raises(ConfigTypeError) as info:
        Tracing(message_events="yes")
    assert str(info.value) == "Tracing expected a bool message_events, got 'yes'"
