"""Startup and shutdown: the ASGI lifespan protocol, with the app's ``lifespan`` run in it.

A ``lifespan`` is what Starlette takes: a function of the app returning an async context
manager, usually ``@contextlib.asynccontextmanager async def lifespan(app): ...; yield; ...``.
It is entered at ``lifespan.startup`` and exited at ``lifespan.shutdown``. When it raises,
the server is told (``lifespan.startup.failed`` / ``lifespan.shutdown.failed``, with a
message naming the function and the error) and the error is logged with its traceback on
the ``shallot_ws`` logger; a server refuses to start after a failed startup.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from . import connections
from .errors import InvalidHandler, ProtocolError
from .reporting import logger
from .signatures import callable_name, describe
from .types import Receive, Send

__all__ = ["Lifespan", "check_lifespan", "serve_lifespan"]

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def check_lifespan(lifespan: object, where: str) -> None:
    """Check at build time that ``lifespan`` is a function of the app (``where`` names the
    owner in the error); an undecorated async generator function is named as such."""
    if inspect.isasyncgenfunction(lifespan):
        raise InvalidHandler(
            f"{where} expected lifespan as an async context manager factory, got the async "
            f"generator function {callable_name(lifespan)}: decorate it with "
            "@contextlib.asynccontextmanager"
        )
    if not callable(lifespan):
        raise InvalidHandler(
            f"{where} expected lifespan as an async context manager factory, "
            f"got {describe(lifespan)}"
        )
    try:
        inspect.signature(lifespan).bind(None)
    except TypeError:
        raise InvalidHandler(
            f"lifespan {callable_name(lifespan)} must take (app), its signature is "
            f"{inspect.signature(lifespan)}"
        ) from None
    except ValueError:  # no signature to inspect (some builtins): accept
        pass


async def serve_lifespan(
    receive: Receive, send: Send, app: object = None, lifespan: Lifespan | None = None
) -> None:
    """Complete the lifespan protocol, entering ``lifespan(app)`` at startup and exiting it at
    shutdown; without a ``lifespan`` there is nothing to set up. At shutdown, first, the
    connections the server left open are closed (``connections.drain``: the app's shutdown
    close, then each one's ``finally`` blocks and hooks), within a bounded time."""
    context: AbstractAsyncContextManager[Any] | None = None
    while True:
        event = await receive()
        kind = event["type"]
        if kind == "lifespan.startup":
            if lifespan is not None:
                try:
                    context = lifespan(app)
                    if not hasattr(context, "__aenter__"):
                        raise InvalidHandler(
                            "lifespan(app) expected an async context manager, "
                            f"got {describe(context)}"
                        )
                    await context.__aenter__()
                except Exception as exc:
                    await _failed(send, "startup", lifespan, exc)
                    return
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await connections.drain()  # those the server left open close with 1012, hooks run
            if context is not None and lifespan is not None:
                try:
                    await context.__aexit__(None, None, None)
                except Exception as exc:
                    await _failed(send, "shutdown", lifespan, exc)
                    return
            await send({"type": "lifespan.shutdown.complete"})
            return
        else:
            raise ProtocolError(
                f"expected a 'lifespan.startup' or 'lifespan.shutdown' event, got {kind!r}"
            )


async def _failed(send: Send, phase: str, lifespan: Lifespan, exc: Exception) -> None:
    message = f"lifespan {callable_name(lifespan)} failed at {phase}: {exc!r}"
    logger.error("%s", message, exc_info=exc)
    await send({"type": f"lifespan.{phase}.failed", "message": message})
