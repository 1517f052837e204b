"""An in-memory WebSocket client for any ASGI app: no network, no threads.

The client is also the app's server (``InMemoryServer``), so a test sees both sides.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from ..errors import AppClosed, ASGIViolation, HandshakeRefused, WSTimeout
from ..handshake import DENIAL_EXTENSION
from ..messages import encode_headers
from ..reporting import TESTING_EXTENSION
from ..types import ASGIApp, Frame, Message, Scope
from .server import InMemoryServer, check_quirks

__all__ = ["WSTestConnection", "connect"]

_APP_ENDED: Message = {"type": "shallot_ws.testing.app_ended"}


def connect(
    app: ASGIApp,
    path: str = "/",
    *,
    headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]] | None = None,
    subprotocols: Iterable[str] = (),
    timeout: float = 2.0,
    raise_app_exceptions: bool = True,
    denial_response: bool = True,
    queue_size: int = 10,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    scope: Mapping[str, Any] | None = None,
    quirks: Iterable[str] = (),
) -> WSTestConnection:
    """Open an in-memory WebSocket connection to ``app``: ``async with connect(app) as ws:``.

    ``path`` may carry a query string. ``timeout`` bounds every wait, so a test fails with a
    message saying what it waited for instead of hanging. Exceptions the handler raised are
    re-raised into the test (``raise_app_exceptions``). ``denial_response=False`` plays a
    server without the denial-response extension; ``queue_size`` bounds the frames the server
    holds for the app; ``scope`` adds or replaces scope keys. ``quirks`` makes the server
    behave like others seen in the field (``DISCONNECT_1006`` and the others of
    ``shallot_ws.testing.server``); by default it behaves like hypercorn.
    """
    chosen = check_quirks(quirks)
    _check_app(app)
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"connect expected a path that starts with '/', got {path!r}")
    # Split by hand: urlsplit strips whitespace, tabs and CR/LF, and a server does not.
    raw, _, query = path.partition("?")
    full_scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": client,
        "root_path": "",
        "path": unquote(raw),  # servers decode it; raw_path stays as sent
        "raw_path": raw.encode("ascii", "replace"),
        "query_string": query.encode("ascii", "replace"),
        "headers": [(b"host", b"testserver"), *encode_headers(headers, "connect")],
        "subprotocols": list(subprotocols),
        "state": {},
        "extensions": {TESTING_EXTENSION: {"errors": []}},
    }
    if denial_response:
        full_scope["extensions"][DENIAL_EXTENSION] = {}
    if scope:
        full_scope.update(scope)
    return WSTestConnection(app, full_scope, timeout, raise_app_exceptions, queue_size, chosen)


def _check_app(app: object) -> None:
    """Refuse a handler given where an ASGI app goes: the forgotten ``websocket(...)``."""
    if inspect.isasyncgenfunction(app) or (
        inspect.iscoroutinefunction(app) and _positional(app) == 2
    ):
        name = getattr(app, "__name__", repr(app))
        raise TypeError(
            f"connect expected an ASGI app, got the handler {name}: `{name}` is a handler, "
            "not an app: wrap it with `websocket()` or put it in a `router`"
        )


def _positional(function: Any) -> int | None:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for parameter in parameters if parameter.kind in kinds)


class WSTestConnection(InMemoryServer):
    """One in-memory connection: the test's side (``send``, ``receive``, ``close``) and the
    server's side the app talks to. Use through ``connect``."""

    def __init__(
        self,
        app: ASGIApp,
        scope: Scope,
        timeout: float,
        raise_app_exceptions: bool,
        queue_size: int,
        quirks: Iterable[str] = frozenset(),
    ) -> None:
        super().__init__(scope, queue_size, quirks)
        self.app = app
        self.timeout = timeout
        self.raise_app_exceptions = raise_app_exceptions
        self._task: asyncio.Task[None] | None = None
        self._raised = False

    async def _run_app(self) -> None:
        await self.app(self.scope, self._receive, self._send)

    def _app_done(self, task: asyncio.Task[None]) -> None:
        self._handshake.set()
        self._outbound.put_nowait(_APP_ENDED)

    # -- the test's side -------------------------------------------------------------

    @property
    def app_exceptions(self) -> list[BaseException]:
        """Exceptions the app reported (handler and hooks) or raised out of its task."""
        errors: list[BaseException] = list(self.scope["extensions"][TESTING_EXTENSION]["errors"])
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            error = task.exception()
            if error is not None:
                errors.append(error)
        return errors

    @property
    def app_task(self) -> asyncio.Task[None] | None:
        """The task running the app, once the connection was entered."""
        return self._task

    @property
    def denial(self) -> Message | None:
        """The app's HTTP denial of the handshake (``status``, ``headers``, ``body``), if any."""
        return self._denial

    @property
    def errors_raised(self) -> bool:
        """Whether an app exception was raised into the test already."""
        return self._raised

    async def __aenter__(self) -> WSTestConnection:
        self._task = asyncio.get_running_loop().create_task(self._run_app())
        self._task.add_done_callback(self._app_done)
        self._inbound.put_nowait({"type": "websocket.connect"})
        await self._wait(self._handshake.wait(), "the app to accept or refuse the handshake")
        if self.accepted:
            return self
        await self._finish()
        self._raise_app_exception()
        self._raise_violations()
        if self.state == "refused" and self._denial is not None:
            denial = self._denial
            raise HandshakeRefused(denial["status"], denial["headers"], denial["body"])
        raise HandshakeRefused(500)  # the app ended without answering: servers answer 500

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.state == "open":
            # the client leaves with 1000 without waiting for room in a full queue (its
            # writes may be what timed out): the disconnect goes in behind the queued frames
            self._drop(1000)
        elif self.state == "closed" and not self._inbound.full():
            self._inbound.put_nowait({"type": "websocket.disconnect", "code": 1000})
        try:
            await self._finish()
        except WSTimeout:
            if exc_type is None:
                raise  # else the test's own error is the news; the app was cancelled
        if exc_type is None:
            self._raise_app_exception()
            self._raise_violations()

    async def send(self, data: Frame) -> None:
        """Send a frame to the app: ``str`` as text, ``bytes`` as binary."""
        if isinstance(data, str):
            event: Message = {"type": "websocket.receive", "text": data, "bytes": None}
        elif isinstance(data, (bytes, bytearray)):
            event = {"type": "websocket.receive", "bytes": bytes(data), "text": None}
        else:
            raise TypeError(f"send expected str or bytes, got {type(data).__name__}")
        if self.state != "open":
            self._raise_app_exception()  # the handler's own error, as receive() raises it
            raise AppClosed(self.close_code or 1006, self.close_reason or "")
        await self._deliver(event)

    async def receive(self, timeout: float | None = None) -> Frame:
        """The next frame the app sent; raises ``AppClosed`` once the app has closed, or the
        handler's exception if it raised, and ``WSTimeout`` after ``timeout`` seconds."""
        message = await self._wait(self._outbound.get(), "a message from the app", timeout)
        if message["type"] == "websocket.send":
            text = message.get("text")
            return text if text is not None else message["bytes"]  # type: ignore[no-any-return]
        self._outbound.put_nowait(message)  # stays the answer to every later receive
        self._raise_app_exception()
        raise AppClosed(
            self.close_code if self.close_code is not None else 1006, self.close_reason or ""
        )

    async def receive_text(self, timeout: float | None = None) -> str:
        """The next frame, which must be text."""
        frame = await self.receive(timeout)
        assert isinstance(frame, str), f"expected a text frame, got {frame!r}"
        return frame

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        """The next frame, which must be binary."""
        frame = await self.receive(timeout)
        assert isinstance(frame, bytes), f"expected a binary frame, got {frame!r}"
        return frame

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Leave as the client with ``code``, and wait until the app has finished."""
        if self.state == "open":
            self.state = "gone"
            await self._deliver({"type": "websocket.disconnect", "code": code, "reason": reason})
        await self._finish()

    def drop(self) -> None:
        """Drop the connection abruptly, as a lost network does: the app's receive() reports
        code 1006 after the frames already queued, and the client waits for nothing, not
        even for room in a full queue. After the app's close it changes nothing."""
        if self.state == "open":
            self._drop()

    async def wait_closed(self, timeout: float | None = None) -> int:
        """Wait until the app ends the connection; return its close code (1006 if none)."""
        while True:
            message = await self._wait(self._outbound.get(), "the app to close", timeout)
            if message["type"] != "websocket.send":
                self._outbound.put_nowait(message)
                return self.close_code if self.close_code is not None else 1006

    @property
    def finished(self) -> bool:
        """Whether the app's task has ended."""
        return self._task is not None and self._task.done()

    async def _deliver(self, event: Message) -> None:
        await self._wait(self._inbound.put(event), "the app to read (its queue is full)")

    async def _finish(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        try:
            await self._wait(asyncio.shield(task), "the app to finish after the connection ended")
        except WSTimeout:
            task.cancel()
            await asyncio.wait((task,))
            raise

    async def _wait(self, awaitable: Any, what: str, timeout: float | None = None) -> Any:
        limit = self.timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(awaitable, limit)
        except asyncio.TimeoutError:
            raise WSTimeout(f"timed out after {limit} s waiting for {what}") from None

    def _raise_app_exception(self) -> None:
        if self.raise_app_exceptions and not self._raised:
            errors = self.app_exceptions
            if errors:
                self._raised = True
                if any(errors[0] is error for error in self.violation_errors):
                    # what the server raised at a violation: the violation is the news
                    raise ASGIViolation("; ".join(self.violations)) from errors[0]
                raise errors[0]

    def _raise_violations(self) -> None:
        """The app broke the protocol: ``ASGIViolation``, with what the server then raised
        into the app (a ``RuntimeError`` or, under a quirk, an ``OSError``) as its cause."""
        if self.violations:
            cause = None
            if self.raise_app_exceptions and not self._raised and self.app_exceptions:
                self._raised = True
                cause = self.app_exceptions[0]
            raise ASGIViolation("; ".join(self.violations)) from cause
