"""The driver: one WebSocket connection's life, from the handshake to ``on_close``.

The only module that awaits the server's ``send``. DESIGN §2 is its specification:

1. handshake (``handshake.py``): ``on_connect`` decides accept, close (HTTP 403) or denial;
2. open: the handler runs; the receiver reads inline or through its watcher, bounded;
3. the handler returns: close 1000;
4. the handler yields a close: sent as given, then the generator is closed;
5. the client leaves: nothing more is sent; a handler that is not reading is closed at its
   yield or cancelled where it waits after ``drain_timeout``; then ``on_disconnect``;
6. the handler raises: close 1011, the traceback logged once, no exception text sent;
7. always last: ``on_close``, once per accepted connection, whatever ended it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

from .errors import ProtocolError, WSDisconnect
from .handshake import handshake
from .hooks import run_closing_hook
from .messages import SEND_TYPE, check_outgoing
from .receiver import Receiver
from .reporting import logger, report, testing_box
from .types import Hook, Message, Receive, Scope, Send

__all__ = ["Settings", "run_connection"]

SHUTDOWN_CLOSE: Message = {"type": "websocket.close", "code": 1001, "reason": "server shutdown"}
ERROR_CLOSE: Message = {"type": "websocket.close", "code": 1011, "reason": ""}
NORMAL_CLOSE: Message = {"type": "websocket.close", "code": 1000, "reason": ""}

# How a connection ended, for the hooks that follow.
FINISHED, CLOSED, DISCONNECTED, FAILED = "finished", "closed", "disconnected", "failed"


class Settings:
    """What the driver needs of a websocket app: its handler, hooks and limits."""

    __slots__ = (
        "drain_timeout",
        "generator",
        "max_buffered",
        "name",
        "on_close",
        "on_connect",
        "on_disconnect",
        "stall_timeout",
    )

    def __init__(
        self,
        generator: Callable[[Scope, Receiver], AsyncGenerator[Any, None]],
        name: str,
        on_connect: Hook | None,
        on_disconnect: Hook | None,
        on_close: Hook | None,
        max_buffered: int,
        drain_timeout: float,
        stall_timeout: float | None,
    ) -> None:
        self.generator = generator
        self.name = name
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.on_close = on_close
        self.max_buffered = max_buffered
        self.drain_timeout = drain_timeout
        self.stall_timeout = stall_timeout


async def run_connection(settings: Settings, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ``websocket`` scope: handshake, handler, hooks."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise ProtocolError(
            "expected an asyncio event loop (hypercorn's asyncio or uvloop worker), found none: "
            "trio is not supported yet"
        ) from None
    event = await receive()
    if event["type"] != "websocket.connect":
        raise ProtocolError(f"expected a 'websocket.connect' event first, got {event['type']!r}")
    if not await handshake(settings.on_connect, scope, send):
        return
    outcome = FAILED
    cancelled: BaseException | None = None
    session = _Session(settings, scope, receive, send)
    try:
        outcome = await session.run()
    except asyncio.CancelledError as exc:  # the server cancelled us: hooks still run
        cancelled = exc
        if session.client_left:
            outcome = DISCONNECTED
    finally:
        if outcome == DISCONNECTED and settings.on_disconnect is not None:
            cancelled = (
                await run_closing_hook(settings.on_disconnect, "on_disconnect", scope) or cancelled
            )
        if settings.on_close is not None:
            cancelled = await run_closing_hook(settings.on_close, "on_close", scope) or cancelled
    if cancelled is not None:
        raise cancelled


class _Session:
    """One accepted connection: runs the handler and sends what it yields."""

    __slots__ = (
        "_cancels",
        "_drain",
        "_receiver",
        "_scope",
        "_send",
        "_settings",
        "_task",
    )

    def __init__(self, settings: Settings, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        self._settings = settings
        self._scope = scope
        self._send = send
        self._receiver = Receiver(
            receive,
            settings.max_buffered,
            loop,
            self._arm_drain,
            settings.stall_timeout,
            settings.name,
        )
        self._task = asyncio.current_task()
        self._drain: asyncio.TimerHandle | None = None
        self._cancels = 0
        box = testing_box(scope)
        if box is not None:  # the in-memory test client checks the buffer's bound
            box.setdefault("receivers", []).append(self._receiver)

    # The drain timer: armed when the client leaves, re-armed each time the handler takes a
    # buffered frame; when it fires, a handler still running is stopped where it waits.

    def _arm_drain(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
        delay = 0.0 if self._receiver._error is not None else self._settings.drain_timeout
        self._drain = asyncio.get_running_loop().call_later(delay, self._drain_expired)

    def _drain_expired(self) -> None:
        # Cancel the handler where it waits; again after each drain time while it swallows
        # the cancellation, so no handler outlives its client by much.
        if self._task is None:
            return
        self._cancels += 1
        self._task.cancel()
        self._drain = asyncio.get_running_loop().call_later(
            self._settings.drain_timeout, self._drain_expired
        )

    async def run(self) -> str:
        """Run the handler to its end; return how the connection ended."""
        settings = self._settings
        receiver = self._receiver
        generator = settings.generator(self._scope, receiver)
        receiver._start()
        try:
            return await self._pump(generator)
        finally:
            try:
                await generator.aclose()  # runs its finally blocks; the drain timer still applies
            except asyncio.CancelledError:
                if not self._was_stopped():
                    raise
            except Exception as exc:
                report(self._scope, exc, "handler %s raised while closing", settings.name)
            finally:
                if self._drain is not None:
                    self._drain.cancel()
                    self._drain = None
                await receiver._stop()

    @property
    def client_left(self) -> bool:
        """Whether the driver knows the client is gone."""
        return self._receiver._disconnect is not None

    def _was_stopped(self) -> bool:
        """Whether a CancelledError is the drain timer's own; if so, it is consumed."""
        if not self._cancels:
            return False
        cancels, self._cancels = self._cancels, 0
        uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
        if uncancel is None:
            return True
        remaining = 0
        for _ in range(cancels):
            remaining = uncancel()
        return bool(remaining == 0)  # anything left is the server's own cancellation

    async def _pump(self, generator: AsyncGenerator[Any, None]) -> str:
        receiver = self._receiver
        send = self._send
        try:
            async for message in generator:
                if receiver._disconnect is not None:
                    if receiver._frames:
                        continue  # the client left: drop, and let the handler read the rest
                    return DISCONNECTED
                try:
                    trusted = message["type"] is SEND_TYPE  # built by ws_send: validated
                except Exception:
                    trusted = False
                if not trusted:
                    message = check_outgoing(message, f"handler {self._settings.name}")
                    if message["type"] == "websocket.close":
                        try:
                            await send(message)
                        except OSError:  # ASGI 2.4: the client left before the close
                            receiver._lost(1006)
                            return DISCONNECTED
                        return CLOSED
                try:
                    await send(message)
                except OSError:  # ASGI 2.4: the client is gone
                    receiver._lost(1006)
                    return DISCONNECTED
        except WSDisconnect:
            if receiver._disconnect is None:
                raise
            return DISCONNECTED
        except asyncio.CancelledError:
            if not self._was_stopped():
                await self._send_quietly(SHUTDOWN_CLOSE)
                raise
            if receiver._error is not None:  # the server broke the protocol under the watcher
                return await self._fail(receiver._error)
            return DISCONNECTED
        except Exception as exc:
            return await self._fail(exc)
        if receiver._disconnect is not None:
            return DISCONNECTED
        try:
            await send(NORMAL_CLOSE)
        except OSError:  # ASGI 2.4: the client left as the handler finished
            receiver._lost(1006)
            return DISCONNECTED
        return FINISHED

    async def _fail(self, exc: Exception) -> str:
        """The handler raised (or yielded something invalid): log, close with 1011."""
        report(self._scope, exc, "handler %s raised; closing with 1011", self._settings.name)
        if self._receiver._disconnect is not None:
            return DISCONNECTED
        await self._send_quietly(ERROR_CLOSE)
        if self._receiver._disconnect is not None:  # the close found the client gone
            return DISCONNECTED
        return FAILED

    async def _send_quietly(self, message: Message) -> None:
        """Send a close where the server still allows it; a server that refuses is ignored."""
        if self._receiver._disconnect is not None:
            return
        try:
            await self._send(message)
        except OSError:  # ASGI 2.4: the client is gone
            self._receiver._lost(1006)
        except Exception:
            logger.debug("server refused the close %r", message, exc_info=True)
