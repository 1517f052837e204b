"""The driver: one WebSocket connection's life, from the handshake to ``on_close``.

The only module that awaits the server's ``send`` on a websocket connection (the handshake's
answer included). The connection's phase moves only through ``lifecycle.advance``: every
event below is a step of that table, and the driver does the step's action. docs/design.md
§2 and docs/handlers.md ("The lifecycle, as a table") are its specification:

1. handshake (``handshake.py``): ``on_connect`` decides accept, close (HTTP 403) or denial;
2. open: the handler runs; its inbound half reads inline or through its watcher, bounded;
3. the handler returns: close 1000;
4. the handler yields a close: sent as given, then the generator is closed;
5. the client leaves: nothing more is sent; a handler that is not reading is closed at its
   yield or cancelled where it waits after ``drain_timeout``; then ``on_disconnect``;
6. the handler raises: close 1011, the traceback logged once, no exception text sent;
7. always last: ``on_close``, once per accepted connection, whatever ended it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any, NamedTuple

from . import connections
from .cancelling import CancelTimer, cancel_requested
from .errors import LifecycleError, ProtocolError, WSDisconnect
from .handshake import handshake
from .hooks import run_closing_hooks
from .inbound import Inbound
from .lifecycle import DRAINING, Action, Event, Outcome, Phase, advance
from .messages import SEND_TYPE, check_outgoing
from .options import AppOptions
from .receiver import Receiver
from .reporting import logger, report
from .types import Frame, FrameSource, Message, Receive, Scope, Send

__all__ = ["HandlerGenerator", "Plan", "run_connection"]

HandlerGenerator = Callable[[Scope, FrameSource[Frame]], AsyncGenerator[Any, None]]

ERROR_CLOSE: Message = {"type": "websocket.close", "code": 1011, "reason": ""}
NORMAL_CLOSE: Message = {"type": "websocket.close", "code": 1000, "reason": ""}

_DRAIN_MESSAGE = "shallot_ws: the client left and the handler did not stop"
_SENDS_PER_TURN = 32  # at most this many sends in a row without a read or a loop turn
_MIN_CLOSE_WAIT = 0.05  # the shortest wait for the close at shutdown (drain_timeout=0)
_GONE = Phase.GONE


class Plan(NamedTuple):
    """What the driver serves, made once per app: the handler as a generator function, its
    name for logs, and the app's options."""

    handler: HandlerGenerator
    name: str
    options: AppOptions


def run_connection(
    plan: Plan,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> Coroutine[Any, Any, None]:
    """The coroutine that serves one ``websocket`` scope: handshake, handler, hooks. Called
    from the app's ``__call__``, in its event loop; a plain function, so that an idle
    connection holds one coroutine frame fewer."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise ProtocolError(
            "expected an asyncio event loop (hypercorn's asyncio or uvloop worker), found none: "
            "trio is not supported yet"
        ) from None
    return _Session(plan, scope, receive, send).serve(receive)


class _Session:
    """One connection: its phase and outcome, its inbound half, the handler it runs."""

    __slots__ = (
        "_close_code",
        "_inbound",
        "_pending_close",
        "_phase",
        "_plan",
        "_scope",
        "_send",
        "_task",
        "_timer",
        "outcome",
    )

    def __init__(
        self,
        plan: Plan,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._plan = plan
        options = plan.options
        self._scope = scope
        self._send = send
        self._inbound = Inbound(
            receive, options.max_buffered, loop, self._gone, options.stall_timeout, plan.name
        )
        self._task = asyncio.current_task()
        self._timer: CancelTimer | None = None  # the drain timer, made when first needed
        self._phase = Phase.CONNECTING
        self.outcome = Outcome.FAILED  # until a step settles it
        self._close_code = 1006  # the code of the close this connection sent, if any
        self._pending_close: asyncio.Future[None] | None = None  # a bounded close's send

    def _step(self, event: Event) -> Action:
        """Move through the lifecycle table; the action to do."""
        step = advance(self._phase, event)
        self._phase = step.phase
        if step.outcome is not None:
            self.outcome = step.outcome
        return step.action

    async def serve(self, receive: Receive) -> None:
        """The connect event, the handshake, then (if accepted) the handler and the hooks."""
        event = await receive()
        if event["type"] != "websocket.connect":
            self._step(Event.FAULT)
            raise ProtocolError(
                f"expected a 'websocket.connect' event first, got {event['type']!r}"
            )
        options = self._plan.options
        try:
            answer = await handshake(options.on_connect, self._scope)
        except asyncio.CancelledError:
            self._step(Event.SHUTDOWN)  # nothing accepted: no hooks
            raise
        if answer[0]["type"] != "websocket.accept":
            self._step(Event.REFUSE)
            for message in answer:
                await self._send(message)
            return
        self._step(Event.ACCEPT)
        connections.register(self._task)  # a shutdown can close it from now on
        cancelled: BaseException | None = None
        try:
            # Accepted from the moment the accept is being sent: a cancellation even then
            # still runs on_close (the server may have completed the handshake).
            try:
                await self._send(dict(answer[0]))
            except OSError:  # the client left during the handshake
                self._step(Event.LEFT)
            except asyncio.CancelledError:
                raise
            except Exception:  # the server refused the accept: hooks run, the error goes on
                self._step(Event.FAULT)
                raise
            else:
                self._step(Event.SENT)
                # the handler runs in this frame's callee: one frame fewer per connection
                generator = self._plan.handler(self._scope, Receiver(self._inbound))
                self._inbound.start(generator)
                try:
                    await self._pump(generator)
                finally:
                    await self._release(generator)
        except asyncio.CancelledError as exc:  # the server cancelled us: hooks still run
            cancelled = exc
            self._step(Event.SHUTDOWN)
        finally:
            try:
                self._step(Event.CLEANED)
            finally:
                done = await run_closing_hooks(
                    options.on_disconnect,
                    options.on_close,
                    self.outcome is Outcome.DISCONNECTED,
                    self._scope,
                )
                cancelled = done or cancelled
                connections.forget(self._task)
        if cancelled is not None:
            if cancelled.args == (connections.SHUTDOWN_MESSAGE,):
                return  # the app's own shutdown closed it: over, nothing to tell the server
            raise cancelled

    # The drain timer: armed when the client leaves, re-armed each time the handler takes a
    # buffered frame; when it fires, a handler still running is cancelled where it waits,
    # again after each drain time while it swallows that.

    def _gone(self) -> None:
        """The inbound's news: the client left, or the server broke the protocol."""
        action = self._step(Event.FAULT if self._inbound.fault is not None else Event.LEFT)
        pending = self._pending_close
        if pending is not None and self._phase is Phase.CLOSING:
            pending.cancel()  # a bounded close (at shutdown) nobody will read: stop waiting
        drain = self._plan.options.drain_timeout
        if action is Action.ARM_DRAIN:
            self._drain().arm(drain, repeat=drain)
        elif action is Action.CANCEL_HANDLER:
            self._drain().arm(0.0, repeat=drain)

    def _drain(self) -> CancelTimer:
        timer = self._timer
        if timer is None:
            timer = self._timer = CancelTimer(
                self._task, message=_DRAIN_MESSAGE, gate=self._expired
            )
        return timer

    def _expired(self) -> bool:
        """The drain timer fired: whether to cancel the handler (the table says)."""
        return self._step(Event.DRAIN_EXPIRED) is Action.CANCEL_HANDLER

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.disarm()

    def _owns(self, exc: BaseException) -> bool:
        """Whether a CancelledError is the drain timer's alone; if so, it is consumed."""
        timer = self._timer
        return timer is not None and timer.owns(exc)

    async def _release(self, generator: AsyncGenerator[Any, None]) -> None:
        """The handler is done (or stopped): close its generator, stop the inbound half."""
        inbound = self._inbound
        inbound.release()  # the handler is done with the client: no more watching
        if self._phase not in DRAINING:  # its finally blocks run like any clean-up
            self._disarm()
        try:
            await generator.aclose()  # after the client left, the drain timer applies
        except asyncio.CancelledError as exc:
            if not self._owns(exc):
                raise
        except Exception as exc:
            self._step(Event.RAISED)  # reported, nothing sent: the close is behind
            report(self._scope, exc, "handler %s raised while closing", self._plan.name)
        finally:
            if self._timer is not None:
                self._timer.forget()  # and cancellations the handler swallowed
            await inbound.stop(self._close_code)

    async def _pump(self, generator: AsyncGenerator[Any, None]) -> None:
        inbound = self._inbound
        send = self._send
        sends = 0
        last_taken = -1
        gone, send_type, per_turn = _GONE, SEND_TYPE, _SENDS_PER_TURN  # locals: read a message
        try:
            async for message in generator:
                try:
                    trusted = message["type"] is send_type  # built by ws_send: validated
                except Exception:
                    trusted = False
                if not trusted:
                    message = check_outgoing(message, f"handler {self._plan.name}")
                    if message["type"] == "websocket.close":
                        await self._on(Event.CLOSE_YIELDED, message)
                        return
                if self._phase is gone:  # nothing more is sent: the client left
                    if not inbound.ended:  # sends fail, but frames may come yet
                        await asyncio.sleep(0)
                        continue
                    if inbound.buffered:
                        continue  # drop, and let the handler read the rest
                    await self._on(Event.RETURNED)  # stopped at its yield
                    return
                sends += 1
                if sends == per_turn:
                    # The loop always gets a turn: a server's send may never suspend
                    # (hypercorn's, once the client left), and a stream that only yields
                    # would then freeze every connection of the worker. A handler that
                    # read a frame meanwhile gave the loop its turns in its reads.
                    sends = 0
                    taken = inbound.taken
                    if taken == last_taken:
                        await asyncio.sleep(0)
                    last_taken = taken
                try:
                    await send(message)
                except OSError:  # ASGI 2.4: the client is gone
                    inbound.lost()
                except Exception:  # a server refusing a message: say what was wrong with it
                    if trusted:
                        check_outgoing(message, f"handler {self._plan.name}")
                    raise
                else:
                    if inbound.recheck:  # a check met the handler at this yield
                        inbound.look_again()
        except WSDisconnect as exc:  # this client's, passed through: it left; else raised
            await self._on(Event.RETURNED if self._phase is _GONE else Event.RAISED, error=exc)
            return
        except asyncio.CancelledError as exc:
            if self._owns(exc):  # the drain timer's: stopped after its client left or a fault
                fault = inbound.fault
                await self._on(Event.RETURNED if fault is None else Event.RAISED, error=fault)
                return
            if not cancel_requested(self._task):  # the handler raised it itself
                await self._on(Event.RAISED, error=exc)
                return
            await self._on(Event.SHUTDOWN)
            raise
        except Exception as exc:
            await self._on(Event.RAISED, error=exc)
            return
        await self._on(Event.RETURNED)

    async def _on(
        self, event: Event, message: Message | None = None, error: BaseException | None = None
    ) -> None:
        """Step ``event`` (an end of the handler, or a shutdown) and do its action."""
        action = self._step(event)
        if action is Action.NOTHING:
            return
        if action is Action.SEND_NORMAL_CLOSE:
            await self._close(NORMAL_CLOSE)
        elif action is Action.SEND_HANDLER_CLOSE and message is not None:
            await self._close(message)
        elif action is Action.SEND_ERROR_CLOSE and error is not None:
            report(self._scope, error, "handler %s raised; closing with 1011", self._plan.name)
            await self._close(ERROR_CLOSE)
        elif action is Action.SEND_SHUTDOWN_CLOSE:
            # wait for it at most the drain time: a client that has stopped reading must not
            # keep the clean-up (generator, hooks) from running
            options = self._plan.options
            await self._close(options.shutdown_close, max(options.drain_timeout, _MIN_CLOSE_WAIT))
        elif action is Action.REPORT_ERROR and error is not None:
            report(self._scope, error, "handler %s raised after its client left", self._plan.name)
        else:
            raise LifecycleError(f"the driver cannot do {action.name} on event {event.name}")

    async def _send_within(self, message: Message, bound: float) -> None:
        """Send ``message``, waiting at most ``bound`` seconds (``TimeoutError``), and no
        longer than until the client's disconnect comes (``ConnectionResetError``: nobody
        reads it any more; a server may never finish such a send)."""
        task = asyncio.ensure_future(self._send(message))
        self._pending_close = task
        try:
            done, _ = await asyncio.wait((task,), timeout=bound)
        finally:
            self._pending_close = None
            if not task.done():
                task.cancel()
        if not done:
            await asyncio.wait((task,), timeout=_MIN_CLOSE_WAIT)
            raise asyncio.TimeoutError()
        if task.cancelled():  # by ``_gone``: the client left while the close was on its way
            raise ConnectionResetError("the client left while the close was on its way")
        task.result()

    async def _close(self, message: Message, bound: float | None = None) -> None:
        """Send this connection's one close (phase CLOSING); ``bound``: wait at most that."""
        self._close_code = message["code"]
        self._disarm()  # no drain cancellation while closing: the client is there
        try:
            if bound is None:
                await self._send(dict(message))  # a copy: a server may keep or change it
            else:
                await self._send_within(dict(message), bound)
        except asyncio.TimeoutError:  # (an OSError too, from 3.11: caught first)
            self._step(Event.CLOSE_REFUSED)
            logger.warning(
                "handler %s: the %s close was not sent within %s s (the client is not "
                "reading); cleaning up without it",
                self._plan.name,
                message["code"],
                bound,
            )
            return
        except OSError:  # ASGI 2.4: the client left before the close
            self._step(Event.CLOSE_LOST)
            self._inbound.lost()
            return
        except asyncio.CancelledError as exc:
            if not self._owns(exc):
                raise
            # a drain cancel requested just before (a fault): the close may not have gone
            self._step(Event.CLOSE_REFUSED)
            logger.warning(
                "handler %s: the %s close was interrupted", self._plan.name, message["code"]
            )
            return
        except Exception as exc:
            self._step(Event.CLOSE_REFUSED)
            logger.warning(
                "the server refused the %s close of handler %s (%s: %s)",
                message["code"],
                self._plan.name,
                type(exc).__name__,
                exc,
            )
            return
        self._step(Event.SENT)
