"""wrap_logging: one structured log line when a connection opens, one when it closes.

The lines go to the ``shallot_ws.access`` logger (or the one given) at ``INFO`` (or the
level given), each with a readable message and its fields in ``extra=`` (so a JSON
formatter gets them as keys):

* open: ``path``, ``client``;
* close: ``path``, ``client``, ``duration`` (seconds), ``frames_in`` (frames the handler
  took), ``messages_out`` (messages it yielded while the client was there, the close not
  counted) and ``close_code``: the code of a close the handler yielded; the client's code
  if the client left first; 1011 if the handler raised (the exception propagates, and the
  driver logs it); 1012 if the task was cancelled (a server shutdown: the default shutdown
  code); 1000 if the handler
  finished.

Under ``hypercorn module:app`` (or uvicorn) nothing configures Python logging for these
loggers, so the ``INFO`` lines go nowhere until the app's module runs
``logging.basicConfig(level=logging.INFO)`` or the server gets a ``--log-config`` that
covers them (docs/middlewares.md).

Put it outermost, so that it sees the closes the other middlewares yield. The query string
is never logged: it may carry tokens. The pure part is ``client_text`` and ``close_code``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any, overload

from ..compose import HandlerFunction, MappedReceiver, Middleware, relay
from ..errors import ConfigTypeError, WSDisconnect
from ..options import DEFAULT_SHUTDOWN_CLOSE
from ..types import Frame, FrameSource, Scope
from ._base import middleware

__all__ = ["ACCESS_LOGGER", "client_text", "close_code", "wrap_logging"]

ACCESS_LOGGER = "shallot_ws.access"


def client_text(client: Any) -> str:
    """The scope's ``client`` as ``host:port`` (``[host]:port`` for IPv6), or ``-``."""
    if not client:
        return "-"
    try:
        host, port = client
    except (TypeError, ValueError):
        return str(client)
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def close_code(
    closed: int | None = None,
    disconnected: WSDisconnect | None = None,
    raised: bool = False,
    cancelled: bool = False,
) -> int:
    """The close code that ended a connection, from what the middleware saw.

    ``closed``: the code of a close the handler yielded while the client was there;
    ``disconnected``: the client's disconnect, if it left; ``raised``: the handler raised;
    ``cancelled``: the task was cancelled. The first that applies wins, in that order;
    else the handler finished: 1000.
    """
    if closed is not None:
        return closed
    if disconnected is not None:
        return disconnected.code
    if raised:
        return 1011
    if cancelled:
        return DEFAULT_SHUTDOWN_CLOSE[0]
    return 1000


class _Counter:
    __slots__ = ("frames",)

    def __init__(self) -> None:
        self.frames = 0

    def count(self, frame: Frame) -> Frame:
        self.frames += 1
        return frame


def _configured(logger: Any, level: Any) -> Middleware:
    if logger is None:
        logger = logging.getLogger(ACCESS_LOGGER)
    elif not isinstance(logger, logging.Logger):
        # not a LoggerAdapter either: before Python 3.13 it replaces the fields in ``extra``
        raise ConfigTypeError(
            f"wrap_logging expected a logging.Logger, got {type(logger).__name__}"
        )
    if type(level) is not int:
        raise ConfigTypeError(f"wrap_logging expected an int level, got {level!r}")
    log = logger.log

    def wrap(handler: HandlerFunction) -> HandlerFunction:
        async def wrapped(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
            path = scope.get("path", "")
            client = client_text(scope.get("client"))
            log(
                level,
                "websocket open %s from %s",
                path,
                client,
                extra={"path": path, "client": client},
            )
            clock = asyncio.get_running_loop().time  # monotonic; virtual in tests
            start = clock()
            counter = _Counter()
            frames = MappedReceiver(receiver, counter.count)
            out = 0
            closed: int | None = None
            raised = cancelled = False
            try:
                async with relay(handler, scope, frames) as messages:
                    async for message in messages:
                        if receiver.disconnected is None:
                            if type(message) is dict and message.get("type") == "websocket.close":
                                closed = message.get("code", 1000)
                            else:
                                out += 1
                        yield message
            except asyncio.CancelledError:
                cancelled = True
                raise
            except Exception:
                raised = True
                raise
            finally:
                code = close_code(closed, receiver.disconnected, raised, cancelled)
                duration = clock() - start
                log(
                    level,
                    "websocket closed %s from %s: code %d after %.3f s, "
                    "%d frames in, %d messages out",
                    path,
                    client,
                    code,
                    duration,
                    counter.frames,
                    out,
                    extra={
                        "path": path,
                        "client": client,
                        "duration": duration,
                        "frames_in": counter.frames,
                        "messages_out": out,
                        "close_code": code,
                    },
                )

        return wrapped

    return middleware(wrap)


@overload
def wrap_logging(handler: HandlerFunction, /) -> HandlerFunction: ...


@overload
def wrap_logging(logger: logging.Logger | None = None, level: int = logging.INFO) -> Middleware: ...


def wrap_logging(logger: Any = None, level: int = logging.INFO) -> Any:
    """One log line per connection open and close, with its fields in ``extra=``.

    ``wrap_logging`` is a middleware itself (``compose(wrap_logging)``, or
    ``wrap_logging(handler)``); ``wrap_logging(logger, level)`` returns one configured. The
    default logger is ``shallot_ws.access``, the default level ``INFO``.
    """
    if callable(logger) and not isinstance(logger, logging.Logger):
        return _configured(None, level)(logger)  # wrap_logging(handler)
    return _configured(logger, level)
