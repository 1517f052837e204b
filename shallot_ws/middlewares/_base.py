"""What the middlewares of this package share: applying one to a handler, or to an app."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..app import WebSocketApp, as_generator
from ..compose import HandlerFunction, Middleware

__all__ = ["as_generator", "middleware"]


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
