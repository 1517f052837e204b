"""wrap_resource: one async context manager per connection, in the scope, always closed.

``wrap_resource("db", factory)``: ``factory(scope)`` returns an async context manager (a DB
session, a subscription); it is entered before the handler starts, its value is put into
``scope["db"]``, and it is exited exactly once when the connection's generator ends:

* the handler finished: exited cleanly (``__aexit__(None, None, None)``);
* the driver closed the generator (the handler yielded a close, the client left): cleanly
  too, after the handler's own ``finally`` blocks; a close is a normal end;
* the handler raised, or was cancelled where it waited (the driver's drain time, a server
  shutdown): exited with that exception, which then propagates (unless the context manager
  suppresses an ``Exception``; a cancellation always propagates).

The driver runs ``on_close`` only after that, so the resource is closed before it; the key
is removed from the scope again (or its earlier value restored). An async generator
function of ``scope`` that yields once is accepted as the factory too (Litestar's yield
dependencies), as if decorated with ``contextlib.asynccontextmanager``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from ..compose import HandlerFunction, Middleware, relay
from ..errors import ConfigError, ConfigTypeError
from ..signatures import callable_name
from ..types import FrameSource, Scope
from ._base import factory, middleware

__all__ = ["ResourceFactory", "as_context_factory", "wrap_resource"]

ResourceFactory = Callable[[Scope], AbstractAsyncContextManager[Any]]
_MISSING = object()


def as_context_factory(
    factory: ResourceFactory | Callable[[Scope], AsyncIterator[Any]],
) -> ResourceFactory:
    """``factory`` as a function ``scope -> async context manager``.

    An async generator function is wrapped with ``contextlib.asynccontextmanager``; another
    callable is returned as it is (what it returns is checked per connection).
    """
    if inspect.isasyncgenfunction(factory):
        return asynccontextmanager(factory)
    if not callable(factory):
        raise ConfigTypeError(
            f"wrap_resource expected a factory taking scope, got {type(factory).__name__}"
        )
    return factory  # type: ignore[return-value]


def _manager(factory: ResourceFactory, scope: Scope) -> Any:
    manager = factory(scope)
    if not (hasattr(manager, "__aenter__") and hasattr(manager, "__aexit__")):
        raise ConfigTypeError(
            f"wrap_resource expected factory {callable_name(factory)} to return an async "
            f"context manager, got {type(manager).__name__}"
        )
    return manager


@factory
def wrap_resource(
    key: str, factory: ResourceFactory | Callable[[Scope], AsyncIterator[Any]]
) -> Middleware:
    """The middleware that opens ``factory(scope)`` per connection into ``scope[key]``.

    The context manager is entered before the handler starts and exited exactly once,
    whatever ends the connection, before ``on_close``.
    """
    if not isinstance(key, str) or not key:
        error = ConfigError if isinstance(key, str) else ConfigTypeError
        raise error(f"wrap_resource expected a non-empty str key, got {key!r}")
    opener = as_context_factory(factory)

    def wrap(handler: HandlerFunction) -> HandlerFunction:
        async def wrapped(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
            manager = _manager(opener, scope)
            exit_ = type(manager).__aexit__
            resource = await type(manager).__aenter__(manager)
            previous = scope.get(key, _MISSING)
            scope[key] = resource
            try:
                async with relay(handler, scope, receiver) as messages:
                    async for message in messages:
                        yield message
            except GeneratorExit:  # the driver closed the generator: a normal end
                await exit_(manager, None, None, None)
                raise
            except BaseException as exc:
                suppressed = await exit_(manager, type(exc), exc, exc.__traceback__)
                if not suppressed or not isinstance(exc, Exception):
                    raise
            else:
                await exit_(manager, None, None, None)
            finally:
                if previous is _MISSING:
                    scope.pop(key, None)
                else:
                    scope[key] = previous

        return wrapped

    return middleware(wrap)
