"""The Prometheus exporter (``pip install 'shallot_ws[prometheus]'``): a collector that reads a
``Metrics`` at each scrape, and an ASGI endpoint serving the registry.

::

    metrics = Metrics()
    register(metrics)  # into prometheus_client's default registry
    app = router([...], fallback=metrics_endpoint())  # GET /metrics

Nothing is pushed into prometheus_client while connections run: ``collect`` builds the
families from the numbers when Prometheus asks, so a frame costs no lock and no label
lookup. The names follow Prometheus's conventions (``<lib>_<thing>_<unit>``, counters
ending in ``_total``, base units); docs/operations.md lists them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, make_asgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from ..errors import ConfigTypeError, ProtocolError
from ..lifespan import serve_lifespan
from ..types import ASGIApp, Receive, Scope, Send
from .metrics import Metrics

__all__ = ["METRIC_NAMES", "MetricsCollector", "metrics_endpoint", "register"]

#: Every family the collector exports, as its samples are named (counters with ``_total``).
METRIC_NAMES = (
    "shallot_ws_connections_open",
    "shallot_ws_connections_ended_total",
    "shallot_ws_handshakes_denied_total",
    "shallot_ws_frames_total",
    "shallot_ws_frame_bytes_total",
    "shallot_ws_frames_dropped_total",
    "shallot_ws_connection_duration_seconds",
    "shallot_ws_broadcast_published_total",
    "shallot_ws_broadcast_delivered_total",
    "shallot_ws_broadcast_dropped_total",
    "shallot_ws_broadcast_overflowed_total",
    "shallot_ws_broadcast_subscribers",
    "shallot_ws_broadcast_lag_messages",
)
_RECEIVE, _TRANSMIT = "receive", "transmit"  # as OpenTelemetry's network.io.direction


class MetricsCollector:
    """A prometheus_client collector of ``metrics``: register it in a registry (``register``
    does) and every scrape reads the numbers as they are at that moment."""

    def __init__(self, metrics: Metrics) -> None:
        if not isinstance(metrics, Metrics):
            raise ConfigTypeError(f"MetricsCollector expected a Metrics, got {metrics!r}")
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        """The families, without samples: what the registry checks for duplicate names."""
        return list(self._families(Metrics()))

    def collect(self) -> Iterator[Metric]:
        """The families with their samples, read now."""
        return self._families(self.metrics)

    def _families(self, metrics: Metrics) -> Iterator[Metric]:
        routes = list(metrics.routes.values())
        route = ["route"]
        opened = GaugeMetricFamily(
            "shallot_ws_connections_open",
            "Accepted websocket connections still open.",
            labels=route,
        )
        ended = CounterMetricFamily(
            "shallot_ws_connections_ended",
            "Accepted websocket connections that ended, by outcome and close code.",
            labels=["route", "outcome", "code"],
        )
        denied = CounterMetricFamily(
            "shallot_ws_handshakes_denied",
            "Websocket handshakes refused, by the HTTP status of the answer.",
            labels=["route", "status"],
        )
        frames = CounterMetricFamily(
            "shallot_ws_frames",
            "Websocket messages received from clients and sent to them.",
            labels=["route", "direction"],
        )
        sizes = CounterMetricFamily(
            "shallot_ws_frame_bytes",
            "Payload bytes of the websocket messages (text in UTF-8), each way.",
            labels=["route", "direction"],
            unit="bytes",
        )
        dropped = CounterMetricFamily(
            "shallot_ws_frames_dropped",
            "Client frames the stall policy dropped (reported by wrap_dropped_frames).",
            labels=route,
        )
        duration = HistogramMetricFamily(
            "shallot_ws_connection_duration_seconds",
            "How long accepted websocket connections lasted, from the accept to the end.",
            labels=route,
            unit="seconds",
        )
        for stats in routes:
            name = stats.route
            opened.add_metric([name], stats.open)
            for (outcome, code), count in sorted(stats.ended.items(), key=_ended_order):
                ended.add_metric([name, outcome.value, str(code)], count)
            for status, count in sorted(stats.denied.items()):
                denied.add_metric([name, str(status)], count)
            frames.add_metric([name, _RECEIVE], stats.frames_received)
            frames.add_metric([name, _TRANSMIT], stats.frames_sent)
            sizes.add_metric([name, _RECEIVE], stats.bytes_received)
            sizes.add_metric([name, _TRANSMIT], stats.bytes_sent)
            dropped.add_metric([name], stats.frames_dropped)
            histogram = stats.duration
            duration.add_metric(
                [name],
                [(_bound(bound), count) for bound, count in histogram.cumulative()],
                sum_value=histogram.sum,
            )
        yield from (opened, ended, denied, frames, sizes, dropped, duration)
        yield from self._broadcast_families(metrics)

    def _broadcast_families(self, metrics: Metrics) -> Iterator[Metric]:
        channel = ["channel"]
        counters = [
            (
                CounterMetricFamily(f"shallot_ws_broadcast_{what}", text, labels=channel),
                what,
            )
            for what, text in (
                ("published", "Messages published from this process."),
                ("delivered", "Messages delivered to this process's subscribers, each once."),
                ("dropped", "Messages a subscriber's policy dropped: its buffer was full."),
                ("overflowed", "Subscriptions the 'end' policy ended: their buffer was full."),
            )
        ]
        subscribers = GaugeMetricFamily(
            "shallot_ws_broadcast_subscribers",
            "Live subscriptions in this process.",
            labels=channel,
        )
        lag = GaugeMetricFamily(
            "shallot_ws_broadcast_lag_messages",
            "Messages the slowest live subscriber has waiting, not yet taken by its handler.",
            labels=channel,
            unit="messages",
        )
        for stats in list(metrics.channels.values()):
            label = [stats.label]
            for family, what in counters:
                family.add_metric(label, getattr(stats, what))
            subscribers.add_metric(label, stats.subscribers)
            lag.add_metric(label, stats.lag)
        for family, _ in counters:
            yield family
        yield subscribers
        yield lag


def _ended_order(item: tuple[tuple[Any, int], int]) -> tuple[str, int]:
    (outcome, code), _ = item
    return outcome.value, code


def _bound(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else str(floatToGoString(bound))  # type: ignore[no-untyped-call]


def register(metrics: Metrics, registry: CollectorRegistry = REGISTRY) -> MetricsCollector:
    """Register a collector of ``metrics`` in ``registry`` (prometheus_client's default
    registry unless given); returns it, for ``registry.unregister``."""
    collector = MetricsCollector(metrics)
    registry.register(collector)
    return collector


def metrics_endpoint(registry: CollectorRegistry = REGISTRY, path: str = "/metrics") -> ASGIApp:
    """An ASGI app for a router's ``fallback``: ``GET path`` gets the registry in
    Prometheus's text format, another HTTP path 404, and the lifespan completes."""
    exposition = make_asgi_app(registry)

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await serve_lifespan(receive, send)
        elif kind == "http" and scope["path"] == path:
            await exposition(scope, receive, send)
        elif kind == "http":
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": b"404 Not Found\n"})
        else:
            raise ProtocolError(f"expected an 'http' or 'lifespan' scope, got {kind!r}")

    return endpoint
