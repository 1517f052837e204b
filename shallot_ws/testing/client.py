"""An in-memory WebSocket client for any ASGI app: no network, no threads.

The client plays the ASGI server too, strictly: it behaves like hypercorn (a bounded queue
of client frames, sends after the client left dropped) and records every message the app
sends in a state that does not allow it, failing the test when the connection ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ..errors import AppClosed, ASGIViolation, HandshakeRefused, WSTimeout
from ..handshake import DENIAL_EXTENSION
from ..messages import encode_headers
from ..reporting import TESTING_EXTENSION
from ..types import ASGIApp, Frame, Message, Scope

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
) -> WSTestConnection:
    """Open an in-memory WebSocket connection to ``app``: ``async with connect(app) as ws:``.

    ``path`` may carry a query string. ``timeout`` bounds every wait, so a test fails with a
    message saying what it waited for instead of hanging. Exceptions the handler raised are
    re-raised into the test (``raise_app_exceptions``). ``denial_response=False`` plays a
    server without the denial-response extension; ``queue_size`` bounds the frames the server
    holds for the app; ``scope`` adds or replaces scope keys.
    """
    parts = urlsplit(path)
    full_scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": client,
        "root_path": "",
        "path": parts.path or "/",
        "raw_path": (parts.path or "/").encode("ascii", "replace"),
        "query_string": parts.query.encode("ascii", "replace"),
        "headers": [(b"host", b"testserver"), *encode_headers(headers, "connect")],
        "subprotocols": list(subprotocols),
        "state": {},
        "extensions": {TESTING_EXTENSION: {"errors": []}},
    }
    if denial_response:
        full_scope["extensions"][DENIAL_EXTENSION] = {}
    if scope:
        full_scope.update(scope)
    return WSTestConnection(app, full_scope, timeout, raise_app_exceptions, queue_size)


class WSTestConnection:
    """One in-memory connection: the test's side (``send``, ``receive``, ``close``) and the
    server's side the app talks to. Use through ``connect``."""

    def __init__(
        self,
        app: ASGIApp,
        scope: Scope,
        timeout: float,
        raise_app_exceptions: bool,
        queue_size: int,
    ) -> None:
        self.app = app
        self.scope = scope
        self.timeout = timeout
        self.raise_app_exceptions = raise_app_exceptions
        self.state = "connecting"  # connecting, open, refused, closed (by the app), gone
        self.accepted = False
        self.accepted_subprotocol: str | None = None
        self.accept_headers: list[tuple[bytes, bytes]] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.sent: list[Message] = []  # every message the app sent, in order
        self.violations: list[str] = []
        self.disconnect_received = False  # whether the app's receive() returned the disconnect
        self._inbound: asyncio.Queue[Message] = asyncio.Queue(queue_size)
        self._outbound: asyncio.Queue[Message] = asyncio.Queue()
        self._handshake = asyncio.Event()
        self._denial: Message | None = None
        self._task: asyncio.Task[None] | None = None
        self._raised = False

    # -- the server's side -------------------------------------------------------------

    async def _receive(self) -> Message:
        event = await self._inbound.get()
        if event["type"] == "websocket.disconnect":
            self.disconnect_received = True
        return event

    async def _send(self, message: Message) -> None:
        self.sent.append(message)
        kind = message.get("type")
        if self.state == "connecting":
            self._send_handshake(kind, message)
        elif self.state == "open":
            if kind == "websocket.send":
                text, data = message.get("text"), message.get("bytes")
                if not (isinstance(text, str) and data is None) and not (
                    isinstance(data, bytes) and text is None
                ):
                    self._violate(
                        f"expected exactly one of str 'text' or bytes 'bytes', got {message!r}"
                    )
                    return
                self._outbound.put_nowait(message)
            elif kind == "websocket.close":
                self.state = "closed"
                self.close_code = int(message.get("code", 1000))
                self.close_reason = message.get("reason") or ""
                self._outbound.put_nowait(message)
            else:
                self._violate(
                    f"expected websocket.send or websocket.close after the accept, got {kind!r}"
                )
        elif self.state == "gone":
            if self.disconnect_received:  # the app knew the client had left
                self._violate(
                    f"expected nothing after the app received the disconnect, got {message!r}"
                )
            return  # like hypercorn: a send after the client left is dropped
        else:
            self._violate(
                f"expected nothing after the connection ended ({self.state}), got {message!r}"
            )
            raise RuntimeError(f"unexpected ASGI message {kind!r} after the close")

    def _send_handshake(self, kind: object, message: Message) -> None:
        if kind == "websocket.accept":
            subprotocol = message.get("subprotocol")
            if subprotocol is not None and subprotocol not in self.scope["subprotocols"]:
                self._violate(
                    f"accepted subprotocol {subprotocol!r}, which the client did not offer"
                )
            self.accepted_subprotocol = subprotocol
            self.accept_headers = list(message.get("headers") or [])
            self.accepted = True
            self.state = "open"
        elif kind == "websocket.close":
            self.state = "refused"
            self._denial = {"status": 403, "headers": [], "body": b""}
        elif (
            kind == "websocket.http.response.start" and DENIAL_EXTENSION in self.scope["extensions"]
        ):
            self._denial = {
                "status": message["status"],
                "headers": list(message.get("headers") or []),
                "body": b"",
            }
            return
        elif kind == "websocket.http.response.body" and self._denial is not None:
            self._denial["body"] += bytes(message.get("body", b""))
            if message.get("more_body"):
                return
            self.state = "refused"
        else:
            self._violate(
                f"expected an accept, a close or a denial response first, got {message!r}"
            )
            return
        self._handshake.set()

    async def _run_app(self) -> None:
        await self.app(self.scope, self._receive, self._send)

    def _violate(self, text: str) -> None:
        self.violations.append(text)

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
            self.state = "gone"
            await self._deliver({"type": "websocket.disconnect", "code": 1000})
        elif self.state == "closed" and not self._inbound.full():
            self._inbound.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await self._finish()
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
                raise errors[0]

    def _raise_violations(self) -> None:
        if self.violations:
            raise ASGIViolation("; ".join(self.violations))
