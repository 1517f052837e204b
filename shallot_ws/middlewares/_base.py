"""What the middlewares of this package share: applying one to a handler, or to an app."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable
from typing import Any

from ..app import WebSocketApp
from ..compose import HandlerFunction, Middleware
from ..errors import InvalidMessage, InvalidMessageType
from ..messages import MAX_REASON_BYTES, check_close_code
from ..signatures import check_handler
from ..types import Scope, WebSocketCloseEvent

__all__ = ["as_generator", "close_message", "middleware"]


def close_message(code: object, reason: object, where: str) -> WebSocketCloseEvent:
    """A ``websocket.close`` message, its code and reason checked as ``ws_close`` checks them;
    errors name ``where`` (the middleware and parameter being configured)."""
    checked = check_close_code(code, where)
    if not isinstance(reason, str):
        raise InvalidMessageType(f"{where} expected a str reason, got {type(reason).__name__}")
    size = len(reason.encode("utf-8"))
    if size > MAX_REASON_BYTES:
        raise InvalidMessage(
            f"{where} expected a reason of at most {MAX_REASON_BYTES} UTF-8 bytes, got {size}"
        )
    return {"type": "websocket.close", "code": checked, "reason": reason}


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
