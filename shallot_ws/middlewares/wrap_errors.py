"""wrap_errors: exceptions of the handler mapped to close codes and reasons.

``wrap_errors({PermissionError: (4003, "forbidden"), ValueError: 1007})``: a handler that
raises a ``PermissionError`` (or a subclass) closes with 4003 "forbidden". The match is the
most specific class of the mapping the exception is an instance of; between unrelated
matches (multiple inheritance), the first in mapping order. Unmapped exceptions propagate,
so the driver keeps its rule: close 1011, traceback logged once, no text sent. A mapped
exception is expected behaviour, not a failure: it is logged at debug level only.

``WSDisconnect`` (the client left) and cancellations always propagate. The pure part is
``error_closes`` (the mapping, validated, as a table) and ``close_for`` (the match).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from ..compose import HandlerFunction, Middleware, relay
from ..errors import (
    ConfigError,
    ConfigTypeError,
    InvalidMessage,
    InvalidMessageType,
    WSDisconnect,
)
from ..messages import close_message
from ..reporting import logger
from ..signatures import callable_name
from ..types import FrameSource, Scope, WebSocketCloseEvent
from ._base import factory, middleware

__all__ = ["ErrorMapping", "ErrorTable", "close_for", "error_closes", "wrap_errors"]

ErrorMapping = Mapping[type[BaseException], int | tuple[int, str]]
ErrorTable = tuple[tuple[type[BaseException], WebSocketCloseEvent], ...]


def error_closes(mapping: ErrorMapping, where: str = "wrap_errors") -> ErrorTable:
    """Validate ``mapping`` and return it as a table of ``(exception class, close message)``
    pairs, in mapping order. Values are a close code or a ``(code, reason)`` pair."""
    if not isinstance(mapping, Mapping):
        raise ConfigTypeError(
            f"{where} expected a mapping of exception classes to close codes, "
            f"got {type(mapping).__name__}"
        )
    table = []
    for kind, value in mapping.items():
        if not isinstance(kind, type) or not issubclass(kind, BaseException):
            raise ConfigTypeError(f"{where} expected exception classes as keys, got {kind!r}")
        name = kind.__name__
        if not issubclass(kind, Exception):
            raise ConfigError(
                f"{where} expected Exception subclasses as keys, got {name}, which must propagate"
            )
        if issubclass(kind, WSDisconnect):
            raise ConfigError(
                f"{where} expected exceptions of the handler as keys, got {name}: "
                "the client leaving is not an error to map"
            )
        if isinstance(value, tuple):
            if len(value) != 2:
                raise ConfigTypeError(
                    f"{where} for {name} expected a close code or (code, reason), got {value!r}"
                )
            code, reason = value
        else:
            code, reason = value, ""
        table.append((kind, _close(code, reason, f"{where} for {name}")))
    return tuple(table)


def _close(code: object, reason: object, where: str) -> WebSocketCloseEvent:
    """The close message, checked as ``ws_close`` checks it; a mistake is a configuration's."""
    try:
        return close_message(code, reason, where)
    except InvalidMessageType as exc:
        raise ConfigTypeError(str(exc)) from None
    except InvalidMessage as exc:
        raise ConfigError(str(exc)) from None


def close_for(exc: BaseException, table: ErrorTable) -> WebSocketCloseEvent | None:
    """The close message ``table`` maps ``exc`` to, or ``None`` when it is not mapped.

    Of the classes ``exc`` is an instance of, the most specific wins: one that no other
    matching class subclasses; if several remain (unrelated classes), the first in the
    table. ``WSDisconnect`` is never mapped. The result is a fresh dict.
    """
    if isinstance(exc, WSDisconnect):
        return None
    matches = [(kind, close) for kind, close in table if isinstance(exc, kind)]
    for kind, close in matches:
        if not any(other is not kind and issubclass(other, kind) for other, _ in matches):
            return dict(close)  # type: ignore[return-value]
    return None


@factory
def wrap_errors(mapping: ErrorMapping) -> Middleware:
    """The middleware that closes with a chosen code and reason when the handler raises.

    ``mapping`` maps exception classes to a close code or a ``(code, reason)`` pair, checked
    now (codes as ``ws_close`` accepts them, reasons at most 123 UTF-8 bytes). The most
    specific match wins; unmapped exceptions propagate (the driver's 1011).
    """
    table = error_closes(mapping)

    def wrap(handler: HandlerFunction) -> HandlerFunction:
        name = callable_name(handler)

        async def wrapped(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
            async with relay(handler, scope, receiver) as messages:
                try:
                    async for message in messages:
                        yield message
                except Exception as exc:  # raised while running: never while being closed
                    close = close_for(exc, table)
                    if close is None:
                        raise
                    logger.debug(
                        "handler %s raised %s; closing with %d (wrap_errors)",
                        name,
                        type(exc).__name__,
                        close["code"],
                        exc_info=exc,
                    )
                    yield close

        return wrapped

    return middleware(wrap)
