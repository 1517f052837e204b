"""The ``websocket`` decorator: a handler and its hooks become an ASGI 3 application."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable
from typing import Any, overload

from . import options
from .asgi import upgrade_required
from .driver import Settings, run_connection
from .errors import ProtocolError
from .lifespan import Lifespan, check_lifespan, serve_lifespan
from .receiver import Receiver
from .signatures import callable_name, check_handler, check_hook
from .types import Hook, Receive, Scope, Send

__all__ = [
    "as_generator",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_MAX_BUFFERED",
    "DEFAULT_STALL_TIMEOUT",
    "WebSocketApp",
    "websocket",
]

DEFAULT_MAX_BUFFERED = 16
DEFAULT_DRAIN_TIMEOUT = 0.5
DEFAULT_STALL_TIMEOUT: float | None = None  # off: no default drops a frame


def as_generator(handler: Any) -> Callable[[Scope, Receiver], AsyncGenerator[Any, None]]:
    """``handler`` as an async generator function: a coroutine handler's result, if any, is
    yielded. Raises ``InvalidHandler`` for anything that is not a handler, naming it."""
    if check_handler(handler):
        return handler  # type: ignore[no-any-return]

    async def generator(scope: Scope, receiver: Receiver) -> AsyncGenerator[Any, None]:
        result = await handler(scope, receiver)
        if result is not None:
            yield result

    return functools.wraps(handler)(generator)


class WebSocketApp:
    """An ASGI 3 application serving one handler; ``handler`` and the hooks stay attributes."""

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
    ) -> None:
        generator = as_generator(handler)
        if lifespan is not None:
            check_lifespan(lifespan, f"websocket app {callable_name(handler)}")
        for role, hook in (
            ("on_connect", on_connect),
            ("on_disconnect", on_disconnect),
            ("on_close", on_close),
        ):
            if hook is not None:
                check_hook(hook, role)
        max_buffered = options.count(max_buffered, "max_buffered expected a positive int")
        drain_timeout = options.seconds(drain_timeout, "drain_timeout", zero=True)
        stall_timeout = options.optional_seconds(stall_timeout, "stall_timeout")
        self.handler = handler
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.on_close = on_close
        self.max_buffered = max_buffered
        self.drain_timeout = float(drain_timeout)
        self.stall_timeout = stall_timeout
        self.lifespan = lifespan
        self._settings = Settings(
            generator,
            callable_name(handler),
            on_connect,
            on_disconnect,
            on_close,
            max_buffered,
            self.drain_timeout,
            stall_timeout,
        )
        # The handler's name and doc, but no __wrapped__: frameworks that inspect an ASGI
        # app's signature (Litestar) must see (scope, receive, send), not the handler's.
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            if hasattr(handler, attribute):
                setattr(self, attribute, getattr(handler, attribute))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an ASGI scope: ``websocket`` runs the handler, ``http`` gets 426."""
        kind = scope["type"]
        if kind == "websocket":
            await run_connection(self._settings, scope, receive, send)
        elif kind == "http":
            await upgrade_required(receive, send)
        elif kind == "lifespan":
            await serve_lifespan(receive, send, self, self.lifespan)
        else:
            raise ProtocolError(f"expected a 'websocket', 'http' or 'lifespan' scope, got {kind!r}")

    def replace(self, **changes: Any) -> WebSocketApp:
        """A new app like this one with some of ``handler``, the hooks and limits changed."""
        options: dict[str, Any] = {
            "on_connect": self.on_connect,
            "on_disconnect": self.on_disconnect,
            "on_close": self.on_close,
            "max_buffered": self.max_buffered,
            "drain_timeout": self.drain_timeout,
            "stall_timeout": self.stall_timeout,
            "lifespan": self.lifespan,
        }
        handler = changes.pop("handler", self.handler)
        unknown = set(changes) - set(options)
        if unknown:
            raise TypeError(f"replace expected handler or {sorted(options)}, got {sorted(unknown)}")
        options.update(changes)
        return WebSocketApp(handler, **options)

    def __repr__(self) -> str:
        return f"<WebSocketApp {self._settings.name}>"


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
    instead).
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
        )

    if handler is None:
        return decorate
    return decorate(handler)
