"""A hypothesis state machine that checks one connection's invariants (docs/design.md §2).

Subclass ``WebSocketMachine`` for an app and run its ``TestCase``::

    class EchoMachine(WebSocketMachine):
        app = echo

    TestEcho = EchoMachine.TestCase

Each example opens one in-memory connection (``connect``) in an event loop of its own, and
hypothesis drives it: the client sends frames, lets the app run, waits a little, leaves with
any close code or drops. After every step the invariants are checked; at the end the
connection must end in bounded time, with no task left and no error in the handler.

Needs ``hypothesis`` (the ``test`` extra); shallot_ws itself does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
from collections.abc import AsyncGenerator, Awaitable, Coroutine, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ..app import WebSocketApp, as_generator
from ..compose import HandlerFunction, relay
from ..errors import AppClosed, ASGIViolation, HandshakeRefused, WSTimeout
from ..signatures import callable_name
from ..types import Frame, FrameSource, Message, Receive, Scope, Send
from .client import WSTestConnection, connect
from .hooks import record_hooks
from .strategies import close_codes, close_reasons, frames

__all__ = ["WebSocketMachine"]

T = TypeVar("T")

# Loop iterations a step gives the app: enough for any app that does not wait on time or
# I/O to answer what it was sent (an echo needs two or three).
_RUN_ITERATIONS = 20
# Loop iterations a client operation (a send, a disconnect) gets to complete before the
# machine treats it as blocked by the app's flow control and moves on.
_START_ITERATIONS = 3
_REFUSALS = ("websocket.close", "websocket.http.response.start", "websocket.http.response.body")


def _is_open(machine: WebSocketMachine) -> bool:
    return machine.is_open


def _can_send(machine: WebSocketMachine) -> bool:
    return machine.is_open and machine._pending_send is None


def _client_frames(machine: WebSocketMachine) -> st.SearchStrategy[Frame]:
    return machine.client_frames


class WebSocketMachine(RuleBasedStateMachine):
    """One connection to ``app`` per example, driven by hypothesis, its invariants checked.

    Class attributes: ``app`` (required: a ``WebSocketApp`` or any ASGI app), ``path``,
    ``headers``, ``subprotocols`` (what the client connects with), ``client_frames`` (the
    strategy of frames the client sends), ``expect_errors`` (``True``: exceptions in the
    handler are not a failure), ``timeout`` (seconds the handshake and the end may take;
    ``None``: 2 s, or the app's ``drain_timeout`` plus 1 s if longer).

    In rules and invariants of your own: ``self.ws`` is the connection, ``self.sent_frames``
    the frames the client delivered, ``self.received`` the frames it got, ``self.hooks``
    the hooks that started, in order (a ``WebSocketApp`` only), ``self.is_open`` whether
    both sides are still there, ``self.client_left`` whether the client left first;
    ``self.send_frame(frame)`` and ``self.let_app_run()`` are steps to take in a rule, and
    ``self.run(awaitable)`` runs a coroutine in the machine's loop. Override ``check_end``
    for checks once the connection has ended.
    """

    app: ClassVar[Any]
    path: ClassVar[str] = "/"
    headers: ClassVar[Mapping[str, str] | Iterable[tuple[bytes, bytes]] | None] = None
    subprotocols: ClassVar[Iterable[str]] = ()
    client_frames: ClassVar[st.SearchStrategy[Frame]] = frames(large=False)
    expect_errors: ClassVar[bool] = False
    timeout: ClassVar[float | None] = None

    def __init__(self) -> None:
        super().__init__()
        # An exception being handled around the whole run, if any: teardown compares with it
        # to tell whether a failure is on its way out (then it only cleans up).
        self._ambient = sys.exc_info()[1]
        app = _class_app(type(self))
        self.target: Any = app  # the app under test, with its hooks recorded if it has any
        self.hooks: list[str] = []
        self._has_hooks = isinstance(app, WebSocketApp)
        self._receivers: list[FrameSource[Any]] = []  # each connection's, as its handler got it
        if isinstance(app, WebSocketApp):
            self.target, self.hooks = record_hooks(app)
            self.target = self.target.replace(
                handler=_observing(self.target.handler, self._receivers)
            )
        self.max_buffered: int | None = getattr(app, "max_buffered", None)
        self.end_timeout = _end_timeout(type(self).timeout, app)
        self.sent_frames: list[Frame] = []
        self.received: list[Frame] = []
        self._events: list[tuple[str, Message]] = []  # the app's receive/send calls, in order
        self._handshake_error: BaseException | None = None
        self._pending_send: tuple[asyncio.Task[None], Frame] | None = None
        self._pending_close: asyncio.Task[None] | None = None
        self.loop = asyncio.new_event_loop()
        try:
            self.ws: WSTestConnection = connect(
                self._observed,
                type(self).path,
                headers=type(self).headers,
                subprotocols=type(self).subprotocols,
                timeout=self.end_timeout,
                raise_app_exceptions=False,
            )
            self.loop.run_until_complete(self._open())
        except BaseException:
            self._close_loop()
            raise

    # -- what subclasses use ---------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether the connection is open: accepted, the client there, no close sent."""
        return self._handshake_error is None and self.ws.state == "open"

    @property
    def client_left(self) -> bool:
        """Whether the client left while the connection was open (before any close)."""
        return self.ws.state == "gone"

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` in the machine's event loop, bounded by ``end_timeout``."""
        return self.loop.run_until_complete(self._bounded(awaitable, "a step of the test"))

    def check_end(self) -> None:
        """Override to check more once the connection has ended (the built-in checks passed).
        ``self.sent_frames``, ``self.received`` and ``self.ws`` hold the whole connection."""

    # -- rules -------------------------------------------------------------------------

    def send_frame(self, frame: Frame) -> None:
        """The client sends ``frame`` (if it still can). If the app's buffers are full, the
        write waits, as over TCP: the frame counts as sent once delivered, and the client
        sends nothing else meanwhile."""
        self._refresh()
        if not _can_send(self):
            return
        task = self.loop.run_until_complete(self._start(self._send(frame)))
        if task.done():
            self._sent(task, frame)
        else:
            self._pending_send = (task, frame)

    @precondition(_can_send)
    @rule(batch=st.lists(st.runner().flatmap(_client_frames), min_size=1, max_size=3))
    def send_frames(self, batch: list[Frame]) -> None:
        """The client sends one to three frames (its ``client_frames``), back to back."""
        for frame in batch:
            self.send_frame(frame)

    @rule()
    def let_app_run(self) -> None:
        """The app runs for a few loop iterations: it answers what it can."""
        self._refresh()
        self.loop.run_until_complete(_iterations(_RUN_ITERATIONS))
        self._refresh()

    @rule(seconds=st.sampled_from((0.001, 0.002)))
    def wait_a_little(self, seconds: float) -> None:
        """A little real time passes: the app's timers may fire."""
        self._refresh()
        self.loop.run_until_complete(asyncio.sleep(seconds))
        self._refresh()

    @precondition(_is_open)
    @rule(code=close_codes(), reason=close_reasons())
    def disconnect(self, code: int, reason: str) -> None:
        """The client leaves with a close code and reason."""
        self._leave(code, reason)

    @precondition(_is_open)
    @rule()
    def drop_connection(self) -> None:
        """The connection drops (code 1006, no reason)."""
        self._leave(1006, "")

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def websocket_invariants_hold(self) -> None:
        """Checked after every step: docs/design.md §2, what is decided so far."""
        self._refresh()
        self._check_transcript(ended=False)
        self._check_hooks(ended=False)
        self._check_buffers()

    # -- the end -----------------------------------------------------------------------

    def teardown(self) -> None:
        """End the connection (the client leaves if it is still open), check how it ended,
        and close the loop: always, even when a step failed."""
        failing = sys.exc_info()[1]
        try:
            if failing is not None and failing is not self._ambient:
                return  # a step failed: that is the report; only clean up
            self._end_and_check()
        finally:
            self._close_loop()

    def _end_and_check(self) -> None:
        loop = self.loop
        bound = self.ws.timeout = self._end_bound()
        ending = loop.create_task(self._end())
        # The end is bounded by the client's timeout at each wait; this bounds a handler
        # that swallows even the cancellation that follows.
        loop.run_until_complete(asyncio.wait((ending,), timeout=2 * bound + 1.0))
        since = "its close" if self.ws.state == "closed" else "the client leaving"
        if not ending.done():
            ending.cancel()
            raise AssertionError(
                f"the connection did not end within {2 * bound + 1.0:g} s of {since}, nor "
                f"when its task was cancelled"
            )
        error = ending.exception()
        if isinstance(error, WSTimeout):
            raise AssertionError(
                f"the connection did not end within {bound:g} s of {since} ({error})"
            ) from None
        if error is not None:
            raise error
        self._check_transcript(ended=True)
        self._check_hooks(ended=True)
        self._check_buffers()
        leaked = loop.run_until_complete(_running_tasks())
        if leaked:
            raise AssertionError(f"tasks outlived the connection: {leaked!r}")
        errors = self.ws.app_exceptions
        if errors and not type(self).expect_errors:
            first = errors[0]
            note = getattr(first, "add_note", None)
            if note is not None:
                note(
                    f"raised in the app under {type(self).__name__} ({len(errors)} error(s)); "
                    f"set expect_errors = True if the handler is meant to fail"
                )
            raise first
        self.check_end()

    def _end_bound(self) -> float:
        """How long the end may take: ``end_timeout``, plus the app's ``stall_timeout`` when
        a buffer is full (the client's leaving then waits behind frames nobody reads)."""
        stall = getattr(_class_app(type(self)), "stall_timeout", None)
        bound = self.max_buffered
        if bound is None or stall is None:
            return self.end_timeout
        if any(receiver.buffered >= bound for receiver in self._receivers):
            return self.end_timeout + float(stall)
        return self.end_timeout

    async def _end(self) -> None:
        """The client leaves if it is still there; wait (bounded) for the app to finish."""
        if self._pending_send is not None:
            task, _ = self._pending_send
            if not task.done():  # the client gives up its blocked write and leaves
                task.cancel()
                await asyncio.wait((task,))
            self._refresh()
        if self._pending_close is not None:
            await asyncio.wait((self._pending_close,))
            pending, self._pending_close = self._pending_close, None
            if not pending.cancelled() and pending.exception() is not None:
                raise pending.exception()  # type: ignore[misc]
        ws = self.ws
        with contextlib.suppress(ASGIViolation):  # checked with the transcript, worded there
            await ws.__aexit__(None, None, None)

    # -- the machinery -----------------------------------------------------------------

    async def _observed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app under test, with every receive and send it makes recorded in order."""
        events = self._events
        received = self.received

        async def observed_receive() -> Message:
            event = await receive()
            events.append(("receive", event))
            return event

        async def observed_send(message: Message) -> None:
            ws = self.ws
            delivered = ws.state == "open" and message.get("type") == "websocket.send"
            violations = len(ws.violations)
            events.append(("send", message))
            await send(message)
            if delivered and len(ws.violations) == violations:
                text = message.get("text")
                received.append(text if text is not None else message["bytes"])

        await self.target(scope, observed_receive, observed_send)

    async def _open(self) -> None:
        try:
            await self.ws.__aenter__()
        except (HandshakeRefused, ASGIViolation, WSTimeout) as exc:
            self._handshake_error = exc  # reported by the invariants

    async def _send(self, frame: Frame) -> None:
        await self.ws.send(frame)

    async def _start(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Start a client operation and give it a few iterations to complete."""
        task = asyncio.get_running_loop().create_task(coroutine)
        for _ in range(_START_ITERATIONS):
            if task.done():
                break
            await asyncio.sleep(0)
        return task

    def _leave(self, code: int, reason: str) -> None:
        self._refresh()
        if not self.is_open:
            return
        task = self.loop.run_until_complete(self._start(self.ws.close(code, reason)))
        if task.done():
            task.result()
        else:
            self._pending_close = task  # the app is still finishing: the end waits for it

    def _sent(self, task: asyncio.Task[None], frame: Frame) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            self.sent_frames.append(frame)
        elif not isinstance(error, (AppClosed, WSTimeout)):  # closed meanwhile; gave up
            raise error

    def _refresh(self) -> None:
        """Account for client operations that completed since the last step."""
        pending = self._pending_send
        if pending is not None and pending[0].done():
            self._pending_send = None
            self._sent(*pending)
        close = self._pending_close
        if close is not None and close.done() and not close.cancelled():
            error = close.exception()
            if error is not None and not isinstance(error, WSTimeout):
                self._pending_close = None
                raise error

    def _check_transcript(self, *, ended: bool) -> None:
        """Nothing before the accept, nothing after the close or the disconnect received (so
        at most one close or disconnect; exactly one at the end), no ASGI violation."""
        accepted = False
        ending: tuple[str, Message] | None = None  # the first close or disconnect, the app's view
        for kind, message in self._events:
            kind_of = message.get("type")
            if kind == "receive":
                if kind_of == "websocket.disconnect" and ending is None:
                    ending = ("received the client's disconnect", message)
                continue
            if not accepted:
                if kind_of == "websocket.accept":
                    accepted = True
                    continue
                if kind_of in _REFUSALS:
                    continue  # a refusal: reported below
                raise AssertionError(f"the app sent {message!r} before the accept")
            if ending is not None:
                raise AssertionError(f"the app sent {message!r} after it {ending[0]} {ending[1]!r}")
            if kind_of == "websocket.close":
                ending = ("closed with", message)
        error = self._handshake_error
        if isinstance(error, HandshakeRefused):
            raise AssertionError(
                f"the app refused the handshake (HTTP {error.status}): a WebSocketMachine tests "
                f"an accepted connection; set path, headers or subprotocols so the app accepts"
            )
        if error is not None and not isinstance(error, ASGIViolation):
            raise AssertionError(f"the handshake failed: {error}")
        if self.ws.violations:
            raise AssertionError(f"ASGI violations: {'; '.join(self.ws.violations)}")
        if ended and ending is None and not self.ws.app_exceptions:
            raise AssertionError(
                "the connection ended with neither a close from the app nor the client's "
                "disconnect received by it"
            )

    def _check_hooks(self, *, ended: bool) -> None:
        """Hooks at most once each, on_connect first, on_disconnect only if the client left
        first, on_close last (exactly once at the end)."""
        if not self._has_hooks:
            return
        hooks = self.hooks
        for role in set(hooks):
            if hooks.count(role) > 1:
                raise AssertionError(f"{role} ran {hooks.count(role)} times: {hooks}")
        if hooks and hooks[0] != "on_connect":
            raise AssertionError(f"{hooks[0]} ran before on_connect: {hooks}")
        if "on_close" in hooks and hooks[-1] != "on_close":
            raise AssertionError(f"{hooks[-1]} ran after on_close: {hooks}")
        if "on_disconnect" in hooks and not self.client_left:
            raise AssertionError(f"on_disconnect ran though the client did not leave: {hooks}")
        if not ended:
            return
        if hooks.count("on_close") != 1:
            raise AssertionError(f"on_close did not run at the end of the connection: {hooks}")
        if self._learned_client_left() and "on_disconnect" not in hooks:
            raise AssertionError(
                f"the app received the client's disconnect before any close, but on_disconnect "
                f"did not run: {hooks}"
            )

    def _learned_client_left(self) -> bool:
        for kind, message in self._events:
            if kind == "send" and message.get("type") == "websocket.close":
                return False
            if kind == "receive" and message.get("type") == "websocket.disconnect":
                return True
        return False

    def _check_buffers(self) -> None:
        """The frames waiting for the handler never exceed the app's ``max_buffered``."""
        bound = self.max_buffered
        if bound is None:
            return
        for receiver in self._receivers:
            if receiver.buffered > bound:
                raise AssertionError(
                    f"{receiver.buffered} frames buffered for the handler, above its "
                    f"max_buffered of {bound}"
                )

    async def _bounded(self, awaitable: Awaitable[T], what: str) -> T:
        try:
            return await asyncio.wait_for(awaitable, self.end_timeout)
        except asyncio.TimeoutError:
            raise WSTimeout(f"timed out after {self.end_timeout:g} s waiting for {what}") from None

    def _close_loop(self) -> None:
        """Cancel whatever still runs in the machine's loop, and close it."""
        loop = self.loop
        if loop.is_closed():
            return
        pending: list[asyncio.Task[Any]] = []
        try:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=self.end_timeout))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            # Errors are reported (or a step's failure is): mark every task's exception as
            # retrieved, so that no "never retrieved" log runs later from a finalizer.
            if self._pending_close is not None:
                pending.append(self._pending_close)
            if self._pending_send is not None:
                pending.append(self._pending_send[0])
            for task in pending:
                if task.done() and not task.cancelled():
                    task.exception()
            if hasattr(self, "ws"):
                self.ws.app_exceptions  # noqa: B018 (retrieves the app task's exception)

    def __repr__(self) -> str:
        state = self.ws.state if hasattr(self, "ws") else "unopened"
        return (
            f"<{type(self).__name__} {state}, {len(self.sent_frames)} sent, "
            f"{len(self.received)} received>"
        )


async def _iterations(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _running_tasks() -> list[asyncio.Task[Any]]:
    await _iterations(_START_ITERATIONS)  # let tasks that are ending finish
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current and not task.done()]


def _observing(handler: Any, receivers: list[FrameSource[Any]]) -> HandlerFunction:
    """``handler``, noting each receiver it is given (to check the buffer's bound)."""
    generator = as_generator(handler)

    async def observed(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
        receivers.append(receiver)
        async with relay(generator, scope, receiver) as messages:
            async for message in messages:
                yield message

    observed.__qualname__ = callable_name(handler)
    return observed


def _class_app(cls: type) -> Any:
    """The class's ``app`` as given: a plain function stays unbound (a raw ASGI app)."""
    try:
        app = inspect.getattr_static(cls, "app")
    except AttributeError:
        raise TypeError(f"{cls.__name__} expected an `app` class attribute (an ASGI app)") from None
    if isinstance(app, (staticmethod, classmethod)):
        app = app.__get__(None, cls)
    return app


def _end_timeout(timeout: float | None, app: Any) -> float:
    if timeout is not None:
        return float(timeout)
    drain = getattr(app, "drain_timeout", 0.0)
    return max(2.0, float(drain) + 1.0)
