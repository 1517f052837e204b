"""What the middlewares of this package share: applying one to a handler, or to an app."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable
from typing import Any

from ..app import WebSocketApp
from ..compose import HandlerFunction, Middleware
from ..signatures import check_handler
from ..types import Scope

__all__ = ["as_generator", "middleware"]


def as_generator(handler: Any) -> HandlerFunction:
    """``handler`` as an async generator function; a coroutine handler's result is yielded.

    Raises ``InvalidHandler`` for anything that is not a handler, naming it.
    """
    if check_handler(handler):
        return handler  # type: ignore[no-any-return]

    async def generator(scope: Scope, receiver: Any) -> AsyncGenerator[Any, None]:
        result = await handler(scope, receiver)
        if result is not None:
            yield result

    return functools.wraps(handler)(generator)


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
