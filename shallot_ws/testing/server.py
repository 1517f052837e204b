"""The server's side of an in-memory connection: the ASGI ``receive`` and ``send`` an app
talks to, played strictly.

It behaves like hypercorn (a bounded queue of client frames; a send after the client left is
dropped) and records every message the app sends in a state that does not allow it; the
client fails the test with them when the connection ends.
"""

from __future__ import annotations

import asyncio

from ..handshake import DENIAL_EXTENSION
from ..types import Message, Scope

__all__ = ["InMemoryServer"]


class InMemoryServer:
    """ASGI's server side for one WebSocket connection, with the state a test inspects."""

    def __init__(self, scope: Scope, queue_size: int) -> None:
        self.scope = scope
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

    def _violate(self, text: str) -> None:
        self.violations.append(text)
