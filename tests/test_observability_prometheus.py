"""The Prometheus exporter: the exposition of a ``Metrics`` in-process, the /metrics endpoint,
and a scrape over HTTP from a real hypercorn while websockets clients are connected."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from shallot_ws import ConfigTypeError, ProtocolError, router, ws_close, ws_send
from shallot_ws.observability import Metrics, instrument
from shallot_ws.observability.prometheus import (
    METRIC_NAMES,
    MetricsCollector,
    metrics_endpoint,
    register,
)
from shallot_ws.testing import connect
from tests.serving import http_get, server_fixture

TIMEOUT = 5.0  # any single network wait


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of a Prometheus exposition: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def echo(scope, receiver):
    async for message in receiver:
        if message == "close":
            yield ws_close(4000)
        yield ws_send(message)


async def test_the_collector_exposes_every_family_with_exact_numbers():
    metrics = Metrics(buckets=(1.0,))
    registry = CollectorRegistry()
    collector = register(metrics, registry)
    assert isinstance(collector, MetricsCollector)
    app = instrument(router([("/echo/{n}", echo)]), metrics)
    async with connect(app, "/echo/1") as ws:
        await ws.send("abc")
        await ws.receive()
        await ws.send("close")
        assert await ws.wait_closed() == 4000
    text = generate_latest(registry).decode()
    route = ("route", "/echo/{n}")
    assert samples(text) == {
        ("shallot_ws_connections_open", (route,)): 0.0,
        ("shallot_ws_connections_ended_total", (("code", "4000"), ("outcome", "closed"), route)): 1,
        ("shallot_ws_frames_total", (("direction", "receive"), route)): 2.0,
        ("shallot_ws_frames_total", (("direction", "transmit"), route)): 1.0,
        ("shallot_ws_frame_bytes_total", (("direction", "receive"), route)): 8.0,
        ("shallot_ws_frame_bytes_total", (("direction", "transmit"), route)): 3.0,
        ("shallot_ws_frames_dropped_total", (route,)): 0.0,
        ("shallot_ws_connection_duration_seconds_bucket", (("le", "1.0"), route)): 1.0,
        ("shallot_ws_connection_duration_seconds_bucket", (("le", "+Inf"), route)): 1.0,
        ("shallot_ws_connection_duration_seconds_count", (route,)): 1.0,
        ("shallot_ws_connection_duration_seconds_sum", (route,)): pytest.approx(0, abs=0.5),
    }
    for name in METRIC_NAMES:
        assert f"# TYPE {name.removesuffix('_total')} " in text or f"# TYPE {name} " in text


def test_a_collector_is_registered_once_per_registry():
    registry = CollectorRegistry()
    register(Metrics(), registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        register(Metrics(), registry)
    with pytest.raises(ConfigTypeError) as info:
        MetricsCollector({})
    assert str(info.value) == "MetricsCollector expected a Metrics, got {}"


async def test_the_endpoint_serves_the_registry_at_its_path_only():
    registry = CollectorRegistry()
    register(Metrics(), registry)
    endpoint = metrics_endpoint(registry)

    async def get(path):
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        await endpoint({"type": "http", "path": path, "headers": []}, receive, send)
        return sent[0]["status"], sent[1]["body"]

    status, body = await get("/metrics")
    assert status == 200 and b"# TYPE shallot_ws_connections_open gauge" in body
    assert await get("/") == (404, b"404 Not Found\n")

    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    answers = []

    async def next_event():
        return next(events)

    async def answer(message):
        answers.append(message["type"])

    await endpoint({"type": "lifespan"}, next_event, answer)
    assert answers == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(ProtocolError) as info:
        await endpoint({"type": "websocket", "path": "/metrics"}, next_event, answer)
    assert str(info.value) == "expected an 'http' or 'lifespan' scope, got 'websocket'"


# -- over the network -------------------------------------------------------------------------

serve = server_fixture()


def scrape(server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, headers, body = http_get(server.url("/metrics"), TIMEOUT)
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain")
    return {
        key: value
        for key, value in samples(body.decode()).items()
        if key[0].startswith("shallot_ws_") and not key[0].endswith("_created")
    }


async def scraped_until(server, condition, timeout: float = TIMEOUT):
    """Scrape until ``condition(samples)`` holds (the server counts a client's leaving when
    its disconnect reaches the app, a moment after the client closed); the last scrape."""
    deadline = time.monotonic() + timeout
    while True:
        now = await asyncio.to_thread(scrape, server)
        if condition(now) or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.02)


@pytest.mark.server
@pytest.mark.parametrize(
    ("kind", "client_code"),
    [("hypercorn", "1006"), ("uvicorn", "1000")],  # hypercorn reports 1006 whatever was sent
)
async def test_a_scrape_counts_the_connected_clients_exactly(serve, kind, client_code):
    server = serve("tests.observability_apps:app", server=kind)

    async def join(room):
        ws = await ws_connect(server.ws_url(f"/rooms/{room}"), open_timeout=TIMEOUT, proxy=None)
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "joined"
        return ws

    blue1, blue2, red = [await join(room) for room in ("blue", "blue", "red")]
    try:
        await blue1.send("hello")  # to both blue subscriptions; blue2's handler does not read it
        assert await asyncio.wait_for(blue1.recv(), TIMEOUT) == "hello"
        await red.send("hi")
        assert await asyncio.wait_for(red.recv(), TIMEOUT) == "hi"
        for path, status in (("/private", 401), ("/nowhere", 404)):
            with pytest.raises(InvalidStatus) as refused:
                async with ws_connect(server.ws_url(path), open_timeout=TIMEOUT, proxy=None):
                    pass
            assert refused.value.response.status_code == status

        rooms = ("route", "/rooms/{room}")
        private = ("route", "/private")
        unrouted = ("route", "")
        channel = (("channel", "room"),)
        now = await asyncio.to_thread(scrape, server)
        assert now == {
            ("shallot_ws_connections_open", (rooms,)): 3.0,
            ("shallot_ws_connections_open", (private,)): 0.0,
            ("shallot_ws_connections_open", (unrouted,)): 0.0,
            ("shallot_ws_handshakes_denied_total", (private, ("status", "401"))): 1.0,
            ("shallot_ws_handshakes_denied_total", (unrouted, ("status", "404"))): 1.0,
            **{
                (name, (("direction", direction), route)): 0.0
                for name in ("shallot_ws_frames_total", "shallot_ws_frame_bytes_total")
                for direction in ("receive", "transmit")
                for route in (private, unrouted)
            },
            ("shallot_ws_frames_total", (("direction", "receive"), rooms)): 2.0,
            ("shallot_ws_frames_total", (("direction", "transmit"), rooms)): 5.0,  # 3 joined
            ("shallot_ws_frame_bytes_total", (("direction", "receive"), rooms)): 7.0,
            ("shallot_ws_frame_bytes_total", (("direction", "transmit"), rooms)): 25.0,
            **{("shallot_ws_frames_dropped_total", (r,)): 0.0 for r in (rooms, private, unrouted)},
            **{
                ("shallot_ws_connection_duration_seconds_bucket", (("le", le), r)): 0.0
                for le in ("1.0", "60.0", "+Inf")
                for r in (rooms, private, unrouted)
            },
            **{
                (f"shallot_ws_connection_duration_seconds_{what}", (r,)): 0.0
                for what in ("count", "sum")
                for r in (rooms, private, unrouted)
            },
            ("shallot_ws_broadcast_published_total", channel): 2.0,
            ("shallot_ws_broadcast_delivered_total", channel): 3.0,  # 2 in blue, 1 in red
            ("shallot_ws_broadcast_dropped_total", channel): 0.0,
            ("shallot_ws_broadcast_overflowed_total", channel): 0.0,
            ("shallot_ws_broadcast_subscribers", channel): 3.0,
            ("shallot_ws_broadcast_lag_messages", channel): 1.0,  # blue2 has "hello" waiting
        }

        await blue2.close()
        left = await scraped_until(
            server, lambda s: s[("shallot_ws_connections_open", (rooms,))] == 2.0
        )
        assert left[("shallot_ws_connections_open", (rooms,))] == 2.0
        code = ("code", client_code)
        ended = ("shallot_ws_connections_ended_total", (code, ("outcome", "disconnected"), rooms))
        assert left[ended] == 1.0
        assert left[("shallot_ws_connection_duration_seconds_count", (rooms,))] == 1.0
        assert left[("shallot_ws_broadcast_subscribers", channel)] == 2.0
        assert left[("shallot_ws_broadcast_lag_messages", channel)] == 0.0
        assert left[("shallot_ws_broadcast_delivered_total", channel)] == 3.0
    finally:
        for ws in (blue1, blue2, red):
            await ws.close()
