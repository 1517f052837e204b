"""Observability: metrics and traces of websocket connections and broadcasts. Optional: the
core never imports it, and this package needs nothing beyond the standard library; its
exporters need theirs (``shallot_ws[prometheus]``, ``shallot_ws[otel]``).

::

    metrics = Metrics()
    app = instrument(router([...]), metrics)  # counts every connection, per route pattern
    metrics.watch(broadcast)  # and what a Broadcast publishes and delivers

    from shallot_ws.observability.prometheus import register
    register(metrics)  # into prometheus_client's registry, for its /metrics endpoint

    from shallot_ws.observability.otel import Tracing, observe
    observe(metrics)  # as OpenTelemetry instruments, read at each collection
    app = instrument(router([...]), metrics, tracing=Tracing())  # a span per connection

docs/operations.md lists the metrics, their names and labels, and the span's attributes.
"""

from __future__ import annotations

from .ending import Ending, ending, payload_size
from .instrument import (
    UNROUTED,
    ConnectionTrace,
    ConnectionTracer,
    Instrumented,
    Traffic,
    instrument,
    wrap_dropped_frames,
)
from .metrics import (
    ALL_CHANNELS,
    DEFAULT_BUCKETS,
    ChannelStats,
    Histogram,
    Metrics,
    RouteStats,
    Tally,
)

__all__ = [
    "ALL_CHANNELS",
    "DEFAULT_BUCKETS",
    "UNROUTED",
    "ChannelStats",
    "ConnectionTrace",
    "ConnectionTracer",
    "Ending",
    "Histogram",
    "Instrumented",
    "Metrics",
    "RouteStats",
    "Tally",
    "Traffic",
    "ending",
    "instrument",
    "payload_size",
    "wrap_dropped_frames",
]
