"""OpenTelemetry (``pip install 'shallot_ws[otel]'``): a ``Metrics`` as OpenTelemetry
instruments, and a span per websocket connection.

::

    observe(metrics)  # observable instruments read at each collection, and a histogram
    app = instrument(router([...]), metrics, tracing=Tracing(message_events=True))

Metrics: every count is an observable instrument whose callback reads ``metrics`` when the
reader collects (nothing is recorded per frame); the connection duration is a histogram fed
as each connection ends. Traces: one SERVER span per connection, from the handshake to the
end of the app, named and described with the HTTP server conventions (``GET
/rooms/{room}``, ``http.route``, ``url.path``, ``http.response.status_code`` ...), a child
of the ``traceparent`` the handshake carried (the global propagator: W3C trace context by
default), and current while the app runs, so that the handler's own spans are its children.
OpenTelemetry has no conventions for WebSocket connections yet: what they lack is named in
the ``shallot_ws.`` namespace (``shallot_ws.outcome``, ``shallot_ws.close_code``).
docs/operations.md lists every name.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import propagate, trace
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from ..errors import ConfigTypeError
from ..types import Scope
from .ending import Ending
from .instrument import Traffic
from .metrics import ChannelStats, Metrics, RouteStats

__all__ = ["INSTRUMENT_NAMES", "Tracing", "observe"]

_NAME = "shallot_ws"
#: Every instrument ``observe`` creates.
INSTRUMENT_NAMES = (
    "shallot_ws.connections.open",
    "shallot_ws.connections.ended",
    "shallot_ws.handshakes.denied",
    "shallot_ws.frames",
    "shallot_ws.io",
    "shallot_ws.dropped_frames",
    "shallot_ws.connection.duration",
    "shallot_ws.broadcast.published",
    "shallot_ws.broadcast.delivered",
    "shallot_ws.broadcast.dropped",
    "shallot_ws.broadcast.overflowed",
    "shallot_ws.broadcast.subscribers",
    "shallot_ws.broadcast.lag",
)
_ROUTE = "http.route"
_DIRECTION = "network.io.direction"
_CHANNEL = "messaging.destination.template"
_ERROR_CLOSE = 1011


def _version() -> str:
    try:
        return importlib.metadata.version(_NAME)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return ""


def _route(route: str) -> dict[str, Any]:
    """The route's attributes: none for a connection no route matched (``""``)."""
    return {_ROUTE: route} if route else {}


Reading = Callable[[Metrics], Iterable[Observation]]


def _per_route(read: Callable[[RouteStats], Iterable[tuple[int, dict[str, Any]]]]) -> Reading:
    def observations(metrics: Metrics) -> Iterable[Observation]:
        return [
            Observation(value, {**_route(stats.route), **extra})
            for stats in list(metrics.routes.values())
            for value, extra in read(stats)
        ]

    return observations


def _per_channel(read: Callable[[ChannelStats], int]) -> Reading:
    def observations(metrics: Metrics) -> Iterable[Observation]:
        return [
            Observation(read(stats), {_CHANNEL: stats.label})
            for stats in list(metrics.channels.values())
        ]

    return observations


def _both_ways(received: str, sent: str) -> Reading:
    return _per_route(
        lambda s: [
            (getattr(s, received), {_DIRECTION: "receive"}),
            (getattr(s, sent), {_DIRECTION: "transmit"}),
        ]
    )


# name, kind, unit, description, reading
_OBSERVED: tuple[tuple[str, str, str, str, Reading], ...] = (
    (
        "shallot_ws.connections.open",
        "updown",
        "{connection}",
        "Accepted websocket connections still open.",
        _per_route(lambda s: [(s.open, {})]),
    ),
    (
        "shallot_ws.connections.ended",
        "counter",
        "{connection}",
        "Accepted websocket connections that ended, by outcome and close code.",
        _per_route(
            lambda s: [
                (count, {"shallot_ws.outcome": outcome.value, "shallot_ws.close_code": code})
                for (outcome, code), count in list(s.ended.items())
            ]
        ),
    ),
    (
        "shallot_ws.handshakes.denied",
        "counter",
        "{handshake}",
        "Websocket handshakes refused, by the HTTP status of the answer.",
        _per_route(
            lambda s: [
                (count, {"http.response.status_code": status})
                for status, count in list(s.denied.items())
            ]
        ),
    ),
    (
        "shallot_ws.frames",
        "counter",
        "{frame}",
        "Websocket messages received from clients and sent to them.",
        _both_ways("frames_received", "frames_sent"),
    ),
    (
        "shallot_ws.io",
        "counter",
        "By",
        "Payload bytes of the websocket messages (text in UTF-8), each way.",
        _both_ways("bytes_received", "bytes_sent"),
    ),
    (
        "shallot_ws.dropped_frames",
        "counter",
        "{frame}",
        "Client frames the stall policy dropped (reported by wrap_dropped_frames).",
        _per_route(lambda s: [(s.frames_dropped, {})]),
    ),
    (
        "shallot_ws.broadcast.published",
        "counter",
        "{message}",
        "Messages published from this process.",
        _per_channel(lambda s: s.published),
    ),
    (
        "shallot_ws.broadcast.delivered",
        "counter",
        "{message}",
        "Messages delivered to this process's subscribers, each once.",
        _per_channel(lambda s: s.delivered),
    ),
    (
        "shallot_ws.broadcast.dropped",
        "counter",
        "{message}",
        "Messages a subscriber's policy dropped: its buffer was full.",
        _per_channel(lambda s: s.dropped),
    ),
    (
        "shallot_ws.broadcast.overflowed",
        "counter",
        "{subscription}",
        "Subscriptions the 'end' policy ended: their buffer was full.",
        _per_channel(lambda s: s.overflowed),
    ),
    (
        "shallot_ws.broadcast.subscribers",
        "updown",
        "{subscription}",
        "Live subscriptions in this process.",
        _per_channel(lambda s: s.subscribers),
    ),
    (
        "shallot_ws.broadcast.lag",
        "gauge",
        "{message}",
        "Messages the slowest live subscriber has waiting, not yet taken by its handler.",
        _per_channel(lambda s: s.lag),
    ),
)


def observe(metrics: Metrics, meter_provider: MeterProvider | None = None) -> None:
    """Export ``metrics`` through OpenTelemetry: a meter ``shallot_ws`` of
    ``meter_provider`` (the global one unless given) gets an observable instrument per
    count, read at each collection, and the histogram ``shallot_ws.connection.duration``
    (seconds, ``metrics.buckets`` as its advised boundaries), recorded as connections end."""
    if not isinstance(metrics, Metrics):
        raise ConfigTypeError(f"observe expected a Metrics, got {metrics!r}")
    meter = otel_metrics.get_meter(_NAME, _version(), meter_provider)
    create = {
        "counter": meter.create_observable_counter,
        "updown": meter.create_observable_up_down_counter,
        "gauge": meter.create_observable_gauge,
    }
    for name, kind, unit, description, reading in _OBSERVED:
        create[kind](name, [_callback(metrics, reading)], unit, description)
    histogram = meter.create_histogram(
        "shallot_ws.connection.duration",
        "s",
        "How long accepted websocket connections lasted, from the accept to the end.",
        explicit_bucket_boundaries_advisory=list(metrics.buckets),
    )

    def record(route: str, seconds: float) -> None:
        histogram.record(seconds, _route(route))

    metrics.on_duration(record)


def _callback(
    metrics: Metrics, reading: Reading
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        return reading(metrics)

    return callback


class Tracing:
    """A span per websocket connection, for ``instrument(app, tracing=Tracing())``.

    ``tracer_provider``: where the spans go (the global provider unless given);
    ``message_events``: add an event per frame in and out (``message``, with
    ``message.type`` ``RECEIVED`` or ``SENT``, ``message.id`` counting from 1 each way, and
    ``message.uncompressed_size`` in bytes); ``propagator``: how the handshake's headers
    give the parent (the global propagator unless given: W3C ``traceparent`` by default).
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        *,
        message_events: bool = False,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        if type(message_events) is not bool:
            raise ConfigTypeError(f"Tracing expected a bool message_events, got {message_events!r}")
        self.tracer = trace.get_tracer(_NAME, _version(), tracer_provider)
        self.message_events = message_events
        self.propagator = propagator

    def start(self, scope: Scope, route: str | None) -> ConnectionSpan:
        """Start the span of the connection of ``scope``."""
        return ConnectionSpan(self, scope, route)


class ConnectionSpan:
    """One connection's span: started at the handshake, ended when the app is done."""

    __slots__ = ("_ids", "_token", "span")

    def __init__(self, tracing: Tracing, scope: Scope, route: str | None) -> None:
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        propagator = tracing.propagator
        parent = propagate.extract(carrier) if propagator is None else propagator.extract(carrier)
        self.span = tracing.tracer.start_span(
            f"GET {route}" if route else "GET",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=_scope_attributes(scope, route, carrier),
        )
        self._token: object = None
        self._ids = [0, 0]  # the last message.id received, sent

    def enter(self) -> None:
        """Make the span current: the app's spans are its children."""
        self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def exit(self) -> None:
        """Restore the context ``enter`` replaced."""
        otel_context.detach(self._token)  # type: ignore[arg-type]

    def handshake(self, status: int, subprotocol: str | None) -> None:
        """The answer to the handshake: 101, or the status of the refusal."""
        span = self.span
        span.set_attribute("http.response.status_code", status)
        if subprotocol:
            span.set_attribute("shallot_ws.subprotocol", subprotocol)
        if status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))

    def message(self, sent: bool, size: int) -> None:
        """An event for a frame in or out."""
        ids = self._ids
        ids[sent] += 1
        self.span.add_event(
            "message",
            {
                "message.type": "SENT" if sent else "RECEIVED",
                "message.id": ids[sent],
                "message.uncompressed_size": size,
            },
        )

    def end(self, ending: Ending | None, errors: Sequence[BaseException], traffic: Traffic) -> None:
        """Record the errors, how the connection ended and what it carried; end the span."""
        span = self.span
        for error in errors:
            span.record_exception(error)
        if ending is not None:
            span.set_attributes(
                {
                    "shallot_ws.outcome": ending.outcome.value,
                    "shallot_ws.close_code": ending.code,
                    "shallot_ws.frames.received": traffic.frames_received,
                    "shallot_ws.frames.sent": traffic.frames_sent,
                    "shallot_ws.bytes.received": traffic.bytes_received,
                    "shallot_ws.bytes.sent": traffic.bytes_sent,
                }
            )
            if ending.reason:
                span.set_attribute("shallot_ws.close_reason", ending.reason)
            if traffic.frames_dropped:
                span.set_attribute("shallot_ws.frames.dropped", traffic.frames_dropped)
        if errors:
            span.set_attribute("error.type", _qualified(errors[0]))
            span.set_status(Status(StatusCode.ERROR, type(errors[0]).__name__))
        elif ending is not None and ending.code == _ERROR_CLOSE:
            span.set_attribute("error.type", str(_ERROR_CLOSE))
            span.set_status(Status(StatusCode.ERROR))
        span.end()


def _qualified(error: BaseException) -> str:
    kind = type(error)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _scope_attributes(scope: Scope, route: str | None, headers: dict[str, str]) -> dict[str, Any]:
    """The HTTP server span attributes the handshake's scope gives."""
    attributes: dict[str, Any] = {
        "http.request.method": "GET",
        "url.path": scope.get("path", ""),
        "url.scheme": scope.get("scheme", "ws"),
    }
    if route:
        attributes[_ROUTE] = route
    version = scope.get("http_version")
    if version:
        attributes["network.protocol.version"] = version
    for prefix, address in (("server", scope.get("server")), ("client", scope.get("client"))):
        if address:
            host, port = address[0], address[1] if len(address) > 1 else None
            attributes[f"{prefix}.address"] = host
            if port is not None:
                attributes[f"{prefix}.port"] = port
    agent = headers.get("user-agent")
    if agent:
        attributes["user_agent.original"] = agent
    return attributes
