"""instrument(app, metrics, tracing=...): an ASGI app around a websocket app or a router that
counts and traces each websocket connection from the ASGI events it sees.

Theory of operation. The wrapper changes nothing in the app: it hands the app its own
``receive`` and ``send``, which pass every event through and look at it on the way. The
connect event starts a connection; the app's ``websocket.accept`` opens it (101), a
``websocket.close`` before the accept refuses it (the server answers 403), a
``websocket.http.response.start`` denies it with its status, and an app that raises before
either is answered 500 by the server. Each ``websocket.receive`` and ``websocket.send`` is a
frame in or out (counted as it is handed over: the server's own awaitable is returned, so
no frame of the wrapper stays on the per-frame path); the app's ``websocket.close`` and the
client's ``websocket.disconnect`` (or the accept or close refused with ``OSError``) say who
ended it, and the end of the app call says whether it raised or was cancelled:
``ending.ending`` makes an outcome and a close code of that. The route label is the router's
pattern (``Router.route_of``, asked once per connection before the router runs), the
``route`` given for a single app, or ``""``.

Counting a frame adds to plain integers (metrics.py); nothing is exported per frame. While
the app runs, the connection is current in a context variable: ``wrap_dropped_frames``
reports ``receiver.dropped`` to it from inside the handler, and the exceptions the app
reports on the ``shallot_ws`` logger (a handler that raised, a hook) are handed to its
trace. Without ``instrument`` nothing of this runs: off is free.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncGenerator, Awaitable, Sequence
from typing import Any, NamedTuple, Protocol

from ..compose import HandlerFunction, relay
from ..errors import ConfigError, ConfigTypeError
from ..middlewares._base import middleware
from ..reporting import logger
from ..types import ASGIApp, FrameSource, Message, Receive, Scope, Send
from .ending import NO_CLOSE, Ending, ending
from .metrics import Metrics, RouteStats, Tally

__all__ = [
    "UNROUTED",
    "ConnectionTrace",
    "ConnectionTracer",
    "Instrumented",
    "Traffic",
    "instrument",
    "wrap_dropped_frames",
]

#: The route label of a connection no route matched (or of an app without a ``route``).
UNROUTED = ""
_ACCEPTED = 101  # the status of an accepted WebSocket handshake (Switching Protocols)
_REFUSED = 403  # what servers answer to a close before the accept
_APP_ERROR = 500  # what servers answer to an app that raised before the handshake's answer


class Traffic(NamedTuple):
    """What one connection carried: frames and payload bytes each way, and the frames the
    stall policy dropped (as ``wrap_dropped_frames`` reported them)."""

    frames_received: int
    frames_sent: int
    bytes_received: int
    bytes_sent: int
    frames_dropped: int


class ConnectionTrace(Protocol):
    """One connection's trace (a span), as a ``ConnectionTracer`` starts it."""

    def enter(self) -> None:
        """Make the trace current for the app, until ``exit``."""

    def exit(self) -> None:
        """Undo ``enter``."""

    def handshake(self, status: int, subprotocol: str | None) -> None:
        """The handshake's answer: 101 (accepted, with its subprotocol), or the refusal's."""

    def message(self, sent: bool, size: int) -> None:
        """A frame of ``size`` bytes went out (``sent``) or came in; only called when the
        tracer's ``message_events`` is true."""

    def end(self, ending: Ending | None, errors: Sequence[BaseException], traffic: Traffic) -> None:
        """The app call is over: how the connection ended (``None``: never accepted), the
        exceptions raised or reported meanwhile, in order, and what it carried."""


class ConnectionTracer(Protocol):
    """What starts a trace per connection (``shallot_ws.observability.otel.Tracing``)."""

    message_events: bool

    def start(self, scope: Scope, route: str | None) -> ConnectionTrace:
        """A trace for the connection of ``scope``, its route pattern if known."""
        ...


_CURRENT: contextvars.ContextVar[_Connection | None] = contextvars.ContextVar(
    "shallot_ws.observability.connection", default=None
)


class _Reported(logging.Filter):
    """Hands the exception of each record of the ``shallot_ws`` logger to the connection it
    was logged in (the driver reports a handler's error there, once, and sends 1011)."""

    def filter(self, record: logging.LogRecord) -> bool:
        connection = _CURRENT.get()
        if connection is not None and record.exc_info:
            error = record.exc_info[1]
            if error is not None:
                connection.reported(error)
        return True


_REPORTED = _Reported()


class Instrumented:
    """An ASGI app: ``app`` with its websocket connections counted into ``metrics`` and
    traced by ``tracing``; ``http`` and ``lifespan`` scopes pass through untouched."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics | None = None,
        *,
        tracing: ConnectionTracer | None = None,
        route: str | None = None,
    ) -> None:
        if not callable(app):
            raise ConfigTypeError(f"instrument expected an ASGI app, got {app!r}")
        if metrics is not None and not isinstance(metrics, Metrics):
            raise ConfigTypeError(f"instrument expected a Metrics as metrics, got {metrics!r}")
        if tracing is not None and not callable(getattr(tracing, "start", None)):
            raise ConfigTypeError(
                f"instrument expected a tracer with start(scope, route) as tracing, got {tracing!r}"
            )
        if metrics is None and tracing is None:
            raise ConfigError("instrument expected metrics, tracing or both, got neither")
        if route is not None and not isinstance(route, str):
            raise ConfigTypeError(f"instrument expected a str route, got {route!r}")
        route_of = getattr(app, "route_of", None)
        if route_of is not None and route is not None:
            raise ConfigError(
                "instrument takes a route for a single app; a router names its own routes"
            )
        self.app = app
        self.metrics = metrics
        self.tracing = tracing
        self.route = route
        self._route_of = route_of if callable(route_of) else None
        if tracing is not None and _REPORTED not in logger.filters:
            logger.addFilter(_REPORTED)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``scope``: a websocket connection is observed, anything else passed on."""
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        route_of = self._route_of
        route = route_of(scope) if route_of is not None else self.route
        await _Connection(self, scope, route, receive, send).serve(scope)

    def __repr__(self) -> str:
        return f"<Instrumented {self.app!r}>"


def instrument(
    app: ASGIApp,
    metrics: Metrics | None = None,
    *,
    tracing: ConnectionTracer | None = None,
    route: str | None = None,
) -> Instrumented:
    """``app`` (a websocket app, a router, any ASGI app serving websockets) with every
    websocket connection counted into ``metrics`` and traced by ``tracing``
    (``shallot_ws.observability.otel.Tracing``); one of the two at least.

    Connections are labelled by the route pattern the router matched (``route_of``), or by
    ``route`` for a single app, never by the raw path. See docs/operations.md.
    """
    return Instrumented(app, metrics, tracing=tracing, route=route)


class _Connection(Tally):
    """One websocket connection as the wrapper sees it: its events, counted as they pass
    (its own ``Tally``, which its route reads while it is open)."""

    __slots__ = (
        "_receive",
        "_send",
        "accepted_at",
        "answered",
        "app",
        "closed",
        "dropped",
        "errors",
        "left",
        "messages",
        "metrics",
        "stats",
        "trace",
    )

    def __init__(
        self, owner: Instrumented, scope: Scope, route: str | None, receive: Receive, send: Send
    ) -> None:
        super().__init__()
        self.app = owner.app
        self._receive = receive
        self._send = send
        metrics = self.metrics = owner.metrics
        self.stats: RouteStats | None = (
            None if metrics is None else metrics.route(UNROUTED if route is None else route)
        )
        tracing = owner.tracing
        self.trace = None if tracing is None else tracing.start(scope, route)
        self.messages = tracing is not None and tracing.message_events
        self.accepted_at: float | None = None
        self.answered = False  # the handshake's answer was sent (or is being sent)
        self.closed: tuple[int, str] | None = None  # the app's close, sent first
        self.left: tuple[int, str] | None = None  # the client's leaving, seen first
        self.dropped = 0
        self.errors: list[BaseException] = []

    async def serve(self, scope: Scope) -> None:
        """Run the app with the observing ``receive`` and ``send``; count how it ended."""
        clock = asyncio.get_running_loop().time  # monotonic; virtual in tests
        raised = cancelled = False
        trace = self.trace
        token = _CURRENT.set(self)
        if trace is not None:
            trace.enter()
        try:
            await self.app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except BaseException as error:
            raised = True
            self.reported(error)
            raise
        finally:
            if trace is not None:
                trace.exit()
            _CURRENT.reset(token)
            self._finish(clock(), raised, cancelled)

    def _finish(self, now: float, raised: bool, cancelled: bool) -> None:
        stats = self.stats
        accepted_at = self.accepted_at
        end: Ending | None = None
        if accepted_at is None:
            if raised and not self.answered:  # no answer sent: the server answers 500
                self._refused(_APP_ERROR)
        else:
            end = ending(self.closed, self.left, raised=raised, cancelled=cancelled)
            if stats is not None and self.metrics is not None:
                stats.frames_dropped += self.dropped
                self.metrics.ended(stats, self, end.outcome, end.code, now - accepted_at)
        if self.trace is not None:
            traffic = Traffic(
                self.frames_received,
                self.frames_sent,
                self.bytes_received,
                self.bytes_sent,
                self.dropped,
            )
            self.trace.end(end, self.errors, traffic)

    def _refused(self, status: int) -> None:
        self.answered = True
        stats = self.stats
        if stats is not None:
            denied = stats.denied
            denied[status] = denied.get(status, 0) + 1
        if self.trace is not None:
            self.trace.handshake(status, None)

    def reported(self, error: BaseException) -> None:
        """An exception the app raised or reported: once each, in order."""
        if all(error is not known for known in self.errors):
            self.errors.append(error)

    async def receive(self) -> Message:
        """The server's next event, looked at on the way to the app."""
        event = await self._receive()
        kind = event["type"]
        if kind == "websocket.receive":  # the per-frame path: payload_size, inlined
            text = event.get("text")
            if text is None:
                data = event.get("bytes")
                size = 0 if data is None else len(data)
            else:
                size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            self.frames_received += 1
            self.bytes_received += size
            if self.messages:
                self.trace.message(False, size)  # type: ignore[union-attr]
        elif kind == "websocket.disconnect" and self.closed is None and self.left is None:
            self.left = (event.get("code", NO_CLOSE), event.get("reason") or "")
        return event

    def send(self, message: Message) -> Awaitable[None]:
        """Pass the app's ``message`` to the server, and count it. A frame is counted as it
        is handed over, and the server's own awaitable returned: no frame of this wrapper
        stays on the per-frame path (a send refused then is seen as the server's disconnect
        event, or as neither side's close: 1006)."""
        if message["type"] == "websocket.send":
            text = message.get("text")
            if text is None:
                data = message.get("bytes")
                size = 0 if data is None else len(data)
            else:
                size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            self.frames_sent += 1
            self.bytes_sent += size
            if self.messages:
                self.trace.message(True, size)  # type: ignore[union-attr]
            return self._send(message)
        return self._send_control(message)

    async def _send_control(self, message: Message) -> None:
        """The handshake's answer or the close, passed on and noted."""
        kind = message["type"]
        if kind == "websocket.accept":
            self._accepted(message.get("subprotocol"))
        elif kind == "websocket.http.response.start":
            self._refused(message.get("status", _APP_ERROR))
        elif kind == "websocket.close" and self.accepted_at is None:
            self._refused(_REFUSED)
        try:
            await self._send(message)
        except OSError:  # ASGI 2.4: the client is gone
            if self.closed is None and self.left is None:
                self.left = (NO_CLOSE, "")
            raise
        if kind == "websocket.close" and self.closed is None and self.left is None:
            self.closed = (message.get("code", 1000), message.get("reason") or "")

    def _accepted(self, subprotocol: str | None) -> None:
        self.answered = True
        self.accepted_at = asyncio.get_running_loop().time()
        if self.stats is not None:
            self.stats.opened(self)
        if self.trace is not None:
            self.trace.handshake(_ACCEPTED, subprotocol)


def wrap_dropped_frames(handler: HandlerFunction) -> HandlerFunction:
    """A middleware: when the handler ends, the frames the stall policy dropped
    (``receiver.dropped``, only ever non-zero with ``stall_timeout``) are counted for the
    connection by the ``instrument`` around the app (``shallot_ws_frames_dropped_total``).
    Without ``instrument`` it counts nothing. Apply it to handlers with a ``stall_timeout``."""
    return _count_dropped(handler)


def _wrap(handler: HandlerFunction) -> HandlerFunction:
    async def counted(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
        try:
            async with relay(handler, scope, receiver) as messages:
                async for message in messages:
                    yield message
        finally:
            connection = _CURRENT.get()
            if connection is not None:
                connection.dropped += receiver.dropped

    return counted


_count_dropped = middleware(_wrap)
