"""Composition: middlewares are plain functions ``handler -> handler``.

A middleware may enrich the scope, transform the frames the handler receives (wrap the
receiver in a ``MappedReceiver``) and transform the messages the handler yields. Two rules
make a middleware correct by construction, and ``relay`` follows both:

* start the inner handler with ``async with relay(...)`` (``aclosing``), so that when the
  driver closes the outer generator (a yielded close, the client gone) the inner one is
  closed at once, its ``finally`` blocks running in this task, not later in a finalizer;
* let ``CancelledError`` through: the driver stops a handler that is not reading that way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Any, Generic, TypeVar

from .app import WebSocketApp
from .errors import ConfigTypeError, InvalidHandler, WSDisconnect
from .signatures import callable_name, check_handler
from .types import FrameSource, Scope

__all__ = [
    "FACTORY",
    "SKIP",
    "FilteredReceiver",
    "HandlerFunction",
    "MappedReceiver",
    "Middleware",
    "compose",
    "relay",
]

# The attribute that marks a middleware *factory* (``wrap_limits``: options in, middleware
# out), so that one given where a middleware goes is named: "call wrap_limits(...) first".
FACTORY = "__shallot_ws_middleware_factory__"

HandlerFunction = Callable[[Scope, Any], AsyncIterator[Any]]
Middleware = Callable[[HandlerFunction], HandlerFunction]
H = TypeVar("H")
S = TypeVar("S")
T = TypeVar("T")


class MappedReceiver(Generic[T]):
    """A receiver whose frames pass through ``transform`` on their way to the handler.

    It keeps the receiver's interface (``FrameSource``): ``async for``, ``await receive()``
    (raising ``WSDisconnect`` once the client has left), ``buffered``, ``dropped``,
    ``disconnected`` and ``arrived_at``, the last four those of the receiver it maps. An
    exception that ``transform`` raises reaches the handler where it reads.
    """

    __slots__ = ("_receiver", "_transform")

    def __init__(self, receiver: FrameSource[S], transform: Callable[[S], T]) -> None:
        self._receiver: FrameSource[Any] = receiver
        self._transform: Callable[[Any], T] = transform

    async def __aiter__(self) -> AsyncGenerator[T, None]:
        transform = self._transform
        async for frame in self._receiver:
            yield transform(frame)

    async def receive(self) -> T:
        """The next frame, transformed; raises ``WSDisconnect`` once the client has left."""
        return self._transform(await self._receiver.receive())

    @property
    def buffered(self) -> int:
        """How many frames have arrived that the handler has not taken yet."""
        return self._receiver.buffered

    @property
    def dropped(self) -> int:
        """Frames dropped because the buffer stayed full while the handler did not read."""
        return self._receiver.dropped

    @property
    def disconnected(self) -> WSDisconnect | None:
        """The client's disconnect, or ``None`` while connected."""
        return self._receiver.disconnected

    @property
    def arrived_at(self) -> float | None:
        """When (the loop's ``time()``) the newest frame waiting unread arrived, or ``None``."""
        return self._receiver.arrived_at

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._receiver!r}>"


class _Skip:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Skip()  # a ``FilteredReceiver`` transform's answer: not handed on


class FilteredReceiver(MappedReceiver[T]):
    """A ``MappedReceiver`` whose ``transform`` may answer ``SKIP``: that frame is not handed
    to the handler (a pong, a frame already answered), and the next one is read instead."""

    __slots__ = ()

    async def __aiter__(self) -> AsyncGenerator[T, None]:
        transform = self._transform
        async for frame in self._receiver:
            value = transform(frame)
            if value is not SKIP:
                yield value

    async def receive(self) -> T:
        """The next frame not skipped, transformed; ``WSDisconnect`` once the client left."""
        while True:
            value = self._transform(await self._receiver.receive())
            if value is not SKIP:
                return value


def relay(
    handler: HandlerFunction, scope: Scope, receiver: FrameSource[Any]
) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
    """Start ``handler`` for a middleware; closing the context closes it, at once, here.

    The building block of middlewares::

        async with relay(handler, scope, frames) as messages:
            async for message in messages:
                yield transform(message)

    When the driver closes the middleware's generator (a yielded close, the client gone), the
    ``async with`` closes the inner handler in this task: its ``finally`` blocks run before
    the middleware's own, never later in a finalizer.
    """
    return aclosing(handler(scope, receiver))  # type: ignore[type-var]


def compose(*middlewares: Middleware) -> Callable[[H], H]:
    """Apply ``middlewares`` to a handler, the first one outermost.

    ``compose(a, b)(handler)`` is ``a(b(handler))``. A ``websocket`` app may be given instead
    of a handler: the result is a new app with the same hooks and limits around the wrapped
    handler.
    """
    for middleware in middlewares:
        if not callable(middleware):
            raise InvalidHandler(
                f"compose expected middlewares (handler -> handler), got {middleware!r}"
            )
        if getattr(middleware, FACTORY, False):
            name = callable_name(middleware)
            raise ConfigTypeError(
                f"compose expected middlewares (handler -> handler), got the middleware "
                f"factory {name}: call `{name}(...)` first"
            )

    def apply(target: H) -> H:
        if isinstance(target, WebSocketApp):
            return target.replace(handler=apply(target.handler))  # type: ignore[return-value]
        handler: Any = target
        for middleware in reversed(middlewares):
            handler = middleware(handler)
            check_handler(handler)
        return handler  # type: ignore[no-any-return]

    return apply
