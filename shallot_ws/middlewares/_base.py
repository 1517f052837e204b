"""What the middlewares of this package share: applying one to a handler, or to an app."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ..app import WebSocketApp, as_generator
from ..compose import FACTORY, HandlerFunction, Middleware
from ..errors import ConfigTypeError
from ..signatures import callable_name

__all__ = ["as_generator", "factory", "middleware"]

F = TypeVar("F", bound=Callable[..., Middleware])


def factory(make: F) -> F:
    """Mark ``make`` as a middleware factory (options in, middleware out).

    ``compose`` then names it when it is given without its call, and ``make(handler)`` (the
    factory applied to a handler, its options forgotten) says what to do instead of
    complaining about its first option.
    """
    name = make.__name__

    @functools.wraps(make)
    def checked(*args: Any, **kwargs: Any) -> Middleware:
        if args and _is_handler(args[0]):
            raise ConfigTypeError(
                f"{name} expected its options, got the handler {callable_name(args[0])}: "
                f"call `{name}(...)` first, then apply its result to the handler"
            )
        return make(*args, **kwargs)

    setattr(checked, FACTORY, True)
    return checked  # type: ignore[return-value]


def _is_handler(value: object) -> bool:
    return (
        isinstance(value, WebSocketApp)
        or inspect.isasyncgenfunction(value)
        or inspect.iscoroutinefunction(value)
    )


def middleware(wrap: Callable[[HandlerFunction], HandlerFunction]) -> Middleware:
    """The middleware that applies ``wrap``.

    Given a handler, it returns ``wrap(handler)`` under the handler's name, so the driver's
    logs and errors still name the user's handler. Given a ``websocket`` app (as ``compose``
    accepts), it returns the same app around the wrapped handler.
    """

    def apply(target: Any) -> Any:
        if isinstance(target, WebSocketApp):
            return target.replace(handler=apply(target.handler))
        return functools.wraps(target)(wrap(as_generator(target)))

    return apply
