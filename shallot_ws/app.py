"""The ``websocket`` decorator: a handler and its hooks become an ASGI 3 application."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncGenerator, Callable
from typing import Any, overload

from .asgi import upgrade_required
from .driver import HandlerGenerator, Plan, run_connection
from .errors import ProtocolError
from .lifespan import Lifespan, serve_lifespan
from .options import (
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_MAX_BUFFERED,
    DEFAULT_SHUTDOWN_CLOSE,
    DEFAULT_STALL_TIMEOUT,
    AppOptions,
)
from .signatures import callable_name, check_handler
from .types import Frame, FrameSource, Hook, Receive, Scope, Send

__all__ = [
    "as_generator",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_MAX_BUFFERED",
    "DEFAULT_STALL_TIMEOUT",
    "WebSocketApp",
    "websocket",
]


def as_generator(handler: Any) -> HandlerGenerator:
    """``handler`` as an async generator function: a coroutine handler's result, if any, is
    yielded. Raises ``InvalidHandler`` for anything that is not a handler, naming it."""
    if check_handler(handler):
        return handler  # type: ignore[no-any-return]

    async def generator(scope: Scope, receiver: FrameSource[Frame]) -> AsyncGenerator[Any, None]:
        result = await handler(scope, receiver)
        if result is not None:
            yield result

    return functools.wraps(handler)(generator)


class WebSocketApp:
    """An ASGI 3 application serving one handler; ``handler`` and its ``options`` (an
    ``AppOptions``: the hooks, limits and lifespan, each also an attribute) stay readable."""

    def __init__(
        self,
        handler: Callable[..., Any],
        *,
        on_connect: Hook | None = None,
        on_disconnect: Hook | None = None,
        on_close: Hook | None = None,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
        lifespan: Lifespan | None = None,
        shutdown_code: int = DEFAULT_SHUTDOWN_CLOSE[0],
        shutdown_reason: str = DEFAULT_SHUTDOWN_CLOSE[1],
    ) -> None:
        generator = as_generator(handler)
        name = callable_name(handler)
        self.options = AppOptions(
            on_connect=on_connect,
            on_disconnect=on_disconnect,
            on_close=on_close,
            max_buffered=max_buffered,
            drain_timeout=drain_timeout,
            stall_timeout=stall_timeout,
            lifespan=lifespan,
            shutdown_code=shutdown_code,
            shutdown_reason=shutdown_reason,
            owner=f"websocket app {name}",
        )
        self.handler = handler
        self._plan = Plan(generator, name, self.options)
        # The handler's name and doc, but no __wrapped__: frameworks that inspect an ASGI
        # app's signature (Litestar) must see (scope, receive, send), not the handler's.
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            if hasattr(handler, attribute):
                setattr(self, attribute, getattr(handler, attribute))

    @property
    def on_connect(self) -> Hook | None:
        """The ``on_connect`` hook, or ``None``."""
        return self.options.on_connect

    @property
    def on_disconnect(self) -> Hook | None:
        """The ``on_disconnect`` hook, or ``None``."""
        return self.options.on_disconnect

    @property
    def on_close(self) -> Hook | None:
        """The ``on_close`` hook, or ``None``."""
        return self.options.on_close

    @property
    def max_buffered(self) -> int:
        """How many frames may be read ahead of the handler."""
        return self.options.max_buffered

    @property
    def drain_timeout(self) -> float:
        """How long the handler may run on after its client left."""
        return self.options.drain_timeout

    @property
    def stall_timeout(self) -> float | None:
        """The stall policy's timeout, or ``None`` (off)."""
        return self.options.stall_timeout

    @property
    def lifespan(self) -> Lifespan | None:
        """The app's lifespan, or ``None``."""
        return self.options.lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an ASGI scope: ``websocket`` runs the handler, ``http`` gets 426."""
        kind = scope["type"]
        if kind == "websocket":
            await run_connection(self._plan, scope, receive, send)
        elif kind == "http":
            await upgrade_required(receive, send)
        elif kind == "lifespan":
            await serve_lifespan(receive, send, self, self.lifespan)
        else:
            raise ProtocolError(f"expected a 'websocket', 'http' or 'lifespan' scope, got {kind!r}")

    def replace(self, **changes: Any) -> WebSocketApp:
        """A new app like this one with some of ``handler``, the hooks and limits changed."""
        handler = changes.pop("handler", self.handler)
        known = {f.name for f in dataclasses.fields(AppOptions)} - {"owner"}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"replace expected handler or {sorted(known)}, got {sorted(unknown)}")
        current = {name: getattr(self.options, name) for name in known}
        return WebSocketApp(handler, **{**current, **changes})

    def __repr__(self) -> str:
        return f"<WebSocketApp {self._plan.name}>"


@overload
def websocket(handler: Callable[..., Any], /) -> WebSocketApp: ...


@overload
def websocket(
    handler: None = None,
    /,
    *,
    on_connect: Hook | None = None,
    on_disconnect: Hook | None = None,
    on_close: Hook | None = None,
    max_buffered: int = DEFAULT_MAX_BUFFERED,
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
    lifespan: Lifespan | None = None,
    shutdown_code: int = DEFAULT_SHUTDOWN_CLOSE[0],
    shutdown_reason: str = DEFAULT_SHUTDOWN_CLOSE[1],
) -> Callable[[Callable[..., Any]], WebSocketApp]: ...


def websocket(
    handler: Callable[..., Any] | None = None,
    /,
    *,
    on_connect: Hook | None = None,
    on_disconnect: Hook | None = None,
    on_close: Hook | None = None,
    max_buffered: int = DEFAULT_MAX_BUFFERED,
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
    lifespan: Lifespan | None = None,
    shutdown_code: int = DEFAULT_SHUTDOWN_CLOSE[0],
    shutdown_reason: str = DEFAULT_SHUTDOWN_CLOSE[1],
) -> WebSocketApp | Callable[[Callable[..., Any]], WebSocketApp]:
    """Turn a handler ``(scope, receiver)`` into an ASGI app: ``@websocket``, ``@websocket()``
    or ``@websocket(on_connect=..., on_disconnect=..., on_close=...)``.

    ``max_buffered`` bounds the frames read ahead of the handler; ``drain_timeout`` is how long
    a handler that is not reading may run on after the client left before it is cancelled;
    ``stall_timeout`` (off by default: pure backpressure, nothing is ever dropped) opts in
    to shedding: after that long with the buffer full, a handler that has never asked for a
    frame has the frames that do not fit dropped (``receiver.dropped``, a WARNING logged),
    so that a stream that never reads still sees its client leave behind unread frames.
    ``lifespan(app)``, an async context manager, is entered at the server's startup and
    exited at its shutdown (served directly; under a router, the router's ``lifespan`` runs
    instead). When the server shuts a connection down (cancels its task), the driver closes
    it with ``shutdown_code`` and ``shutdown_reason`` (1012 "service restart": a client that
    reconnects comes back, to this server once restarted or to another).
    """

    def decorate(function: Callable[..., Any]) -> WebSocketApp:
        return WebSocketApp(
            function,
            on_connect=on_connect,
            on_disconnect=on_disconnect,
            on_close=on_close,
            max_buffered=max_buffered,
            drain_timeout=drain_timeout,
            stall_timeout=stall_timeout,
            lifespan=lifespan,
            shutdown_code=shutdown_code,
            shutdown_reason=shutdown_reason,
        )

    if handler is None:
        return decorate
    return decorate(handler)
