"""The driver: one WebSocket connection's life, from the handshake to ``on_close``.

The only module that awaits the server's ``send`` on a websocket connection (the handshake's
answer included). docs/design.md §2 is its specification:

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

from .cancelling import COUNTS, cancel_requested, uncancel
from .errors import ProtocolError, WSDisconnect
from .handshake import handshake
from .hooks import run_closing_hook
from .lifecycle import Outcome
from .messages import SEND_TYPE, check_outgoing
from .receiver import Receiver
from .reporting import logger, report, testing_box
from .types import Hook, Message, Receive, Scope, Send

__all__ = ["Settings", "run_connection"]

SHUTDOWN_CLOSE: Message = {"type": "websocket.close", "code": 1001, "reason": "server shutdown"}
ERROR_CLOSE: Message = {"type": "websocket.close", "code": 1011, "reason": ""}
NORMAL_CLOSE: Message = {"type": "websocket.close", "code": 1000, "reason": ""}

FINISHED, CLOSED, DISCONNECTED, FAILED = (
    Outcome.FINISHED,
    Outcome.CLOSED,
    Outcome.DISCONNECTED,
    Outcome.FAILED,
)


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
    answer = await handshake(settings.on_connect, scope)
    if answer[0]["type"] != "websocket.accept":
        for message in answer:
            await send(message)
        return
    outcome = FAILED
    cancelled: BaseException | None = None
    session = _Session(settings, scope, receive, send)
    try:
        # Accepted from the moment the accept is being sent: a cancellation even then
        # still runs on_close (the server may have completed the handshake).
        await send(dict(answer[0]))
        outcome = await session.run()
    except asyncio.CancelledError as exc:  # the server cancelled us: hooks still run
        cancelled = exc
        if session.client_left:
            outcome = DISCONNECTED
    finally:
        if outcome is DISCONNECTED and settings.on_disconnect is not None:
            cancelled = (
                await run_closing_hook(settings.on_disconnect, "on_disconnect", scope) or cancelled
            )
        if settings.on_close is not None:
            cancelled = await run_closing_hook(settings.on_close, "on_close", scope) or cancelled
    if cancelled is not None:
        raise cancelled


_DRAIN_MESSAGE = "shallot_ws: the client left and the handler did not stop"
_SENDS_PER_TURN = 32  # at most this many sends in a row without a read or a loop turn
_MIN_CLOSE_WAIT = 0.05  # the shortest wait for the close at shutdown (drain_timeout=0)
_UNCANCEL = COUNTS  # before 3.11, a cancellation is told by its message


class _Session:
    """One accepted connection: runs the handler and sends what it yields.

    ``_live``: the handler runs, or is being closed after its client left; only then may the
    drain timer cancel it. ``_closed``: this connection's one close was sent (or is being
    sent); no other follows.
    """

    __slots__ = (
        "_cancels",
        "_close_code",
        "_closed",
        "_drain",
        "_live",
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
        self._live = False
        self._closed = False
        self._close_code = 1006  # the code of the close this connection sent, if any
        box = testing_box(scope)
        if box is not None:  # the in-memory test client checks the buffer's bound
            box.setdefault("receivers", []).append(self._receiver)

    # The drain timer: armed when the client leaves, re-armed each time the handler takes a
    # buffered frame; when it fires, a handler still running is stopped where it waits.

    def _arm_drain(self) -> None:
        if not self._live:
            return
        self._disarm()
        delay = 0.0 if self._receiver._error is not None else self._settings.drain_timeout
        self._drain = asyncio.get_running_loop().call_later(delay, self._drain_expired)

    def _disarm(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
            self._drain = None

    def _drain_expired(self) -> None:
        # Cancel the handler where it waits; again after each drain time while it swallows
        # the cancellation, so no handler outlives its client by much.
        self._drain = None
        task = self._task
        if not self._live or task is None or task.done():
            return
        self._cancels += 1
        if _UNCANCEL:
            task.cancel()
        else:
            task.cancel(_DRAIN_MESSAGE)
        self._drain = asyncio.get_running_loop().call_later(
            self._settings.drain_timeout, self._drain_expired
        )

    def _was_stopped(self, exc: BaseException) -> bool:
        """Whether a CancelledError is the drain timer's own; if so, it is consumed."""
        if not self._cancels:
            return False
        cancels, self._cancels = self._cancels, 0
        if not _UNCANCEL:
            return exc.args == (_DRAIN_MESSAGE,)
        remaining = 0
        for _ in range(cancels):
            remaining = uncancel(self._task)  # type: ignore[arg-type]
        return remaining == 0  # anything left is the server's own cancellation

    def _forget_cancels(self) -> None:
        """Cancellations the handler swallowed: take them back, the task must not end
        still marked as being cancelled."""
        if self._cancels and _UNCANCEL and self._task is not None:
            for _ in range(self._cancels):
                uncancel(self._task)
        self._cancels = 0

    def _cancelled_by_nobody(self) -> bool:
        """Whether a CancelledError was raised by the handler itself (3.11+ can tell)."""
        return not cancel_requested(self._task)

    @property
    def client_left(self) -> bool:
        """Whether the driver knows the client is gone."""
        return self._receiver._quiet

    async def run(self) -> Outcome:
        """Run the handler to its end; return how the connection ended."""
        settings = self._settings
        receiver = self._receiver
        generator = settings.generator(self._scope, receiver)
        receiver._start()
        self._live = True
        outcome = FAILED
        try:
            outcome = await self._pump(generator)
            return outcome
        finally:
            receiver._active = False  # the handler is done with the client: no more watching
            if outcome is not DISCONNECTED:  # its finally blocks run like any clean-up: unbounded
                self._live = False
                self._disarm()
            try:
                await generator.aclose()  # after the client left, the drain timer applies
            except asyncio.CancelledError as exc:
                if not self._was_stopped(exc):
                    raise
            except Exception as exc:
                report(self._scope, exc, "handler %s raised while closing", settings.name)
            finally:
                self._live = False
                self._disarm()
                self._forget_cancels()
                await receiver._stop(self._close_code)

    async def _pump(self, generator: AsyncGenerator[Any, None]) -> Outcome:
        receiver = self._receiver
        send = self._send
        sends = 0
        last_taken = -1
        try:
            async for message in generator:
                try:
                    trusted = message["type"] is SEND_TYPE  # built by ws_send: validated
                except Exception:
                    trusted = False
                if not trusted:
                    message = check_outgoing(message, f"handler {self._settings.name}")
                    if message["type"] == "websocket.close":
                        if receiver._quiet:
                            return DISCONNECTED  # closed at its yield: nothing more to send
                        return await self._close(message, CLOSED)
                if receiver._quiet:  # nothing more is sent: the client left
                    if receiver._disconnect is None:  # sends fail, but frames may come yet
                        await asyncio.sleep(0)
                        continue
                    if receiver._frames:
                        continue  # drop, and let the handler read the rest
                    return DISCONNECTED
                sends += 1
                if sends == _SENDS_PER_TURN:
                    # The loop always gets a turn: a server's send may never suspend
                    # (hypercorn's, once the client left), and a stream that only yields
                    # would then freeze every connection of the worker. A handler that
                    # read a frame meanwhile gave the loop its turns in its reads.
                    sends = 0
                    taken = receiver._taken_count
                    if taken == last_taken:
                        await asyncio.sleep(0)
                    last_taken = taken
                try:
                    await send(message)
                except OSError:  # ASGI 2.4: the client is gone
                    receiver._lost()
                except Exception:  # a server refusing a message: say what was wrong with it
                    if trusted:
                        check_outgoing(message, f"handler {self._settings.name}")
                    raise
        except WSDisconnect as exc:
            if not receiver._quiet:  # not this client's: the handler raised it
                return await self._fail(exc)
            return DISCONNECTED
        except asyncio.CancelledError as exc:
            if self._was_stopped(exc):
                if receiver._error is not None:  # the server broke the protocol
                    return await self._fail(receiver._error)
                return DISCONNECTED
            if self._cancelled_by_nobody():  # the handler raised it itself
                return await self._fail(exc)
            await self._close_at_shutdown()
            raise
        except Exception as exc:
            return await self._fail(exc)
        if receiver._quiet:
            return DISCONNECTED
        return await self._close(NORMAL_CLOSE, FINISHED)

    async def _close_at_shutdown(self) -> None:
        """Send the 1001 close, but wait for it at most the drain time: a client that has
        stopped reading must not keep the clean-up (generator, hooks) from running."""
        bound = max(self._settings.drain_timeout, _MIN_CLOSE_WAIT)
        try:
            await asyncio.wait_for(self._close(SHUTDOWN_CLOSE, FAILED, quiet=True), bound)
        except asyncio.TimeoutError:
            logger.warning(
                "handler %s: the 1001 close at shutdown was not sent within %s s (the client "
                "is not reading); cleaning up without it",
                self._settings.name,
                bound,
            )

    async def _fail(self, exc: BaseException) -> Outcome:
        """The handler raised (or yielded something invalid): log, close with 1011."""
        report(self._scope, exc, "handler %s raised; closing with 1011", self._settings.name)
        return await self._close(ERROR_CLOSE, FAILED, quiet=True)

    async def _close(self, message: Message, outcome: Outcome, *, quiet: bool = False) -> Outcome:
        """Send this connection's one close, and return ``outcome``; or DISCONNECTED if the
        client is gone. ``quiet``: a server that refuses the close is only logged."""
        receiver = self._receiver
        if receiver._quiet:
            return DISCONNECTED
        if self._closed:
            return outcome
        self._closed = True
        self._close_code = message["code"]
        self._live = False  # no drain cancellation while closing: the client is there
        self._disarm()
        try:
            await self._send(dict(message))  # a copy: a server may keep or change it
        except OSError:  # ASGI 2.4: the client left before the close
            receiver._lost()
            return DISCONNECTED
        except asyncio.CancelledError as exc:
            if not self._was_stopped(exc):  # a drain cancel requested just before: ours
                raise
        except Exception as exc:
            if not quiet:
                raise
            # the handler's error is logged already; that its close was refused is news too
            logger.warning(
                "the server refused the %s close of handler %s (%s: %s)",
                message["code"],
                self._settings.name,
                type(exc).__name__,
                exc,
            )
        return outcome
