"""The server's side of an in-memory connection: the ASGI ``receive`` and ``send`` an app
talks to, played strictly.

It behaves like hypercorn (a bounded queue of client frames; a send after the client left is
dropped) and records every message the app sends in a state that does not allow it; the
client fails the test with them when the connection ends.

Quirks make it behave like other servers seen in the field, so a handler can be tested
against each (``connect(app, quirks={DISCONNECT_1006, ...})``). A quirk changes what the
server does, never what counts as a violation of the ASGI contract: those are recorded
under every quirk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from ..handshake import DENIAL_EXTENSION
from ..types import Message, Scope

__all__ = [
    "DISCONNECT_1006",
    "QUIRKS",
    "SEND_AFTER_CLOSE_IGNORED",
    "SEND_AFTER_CLOSE_OSERROR",
    "SEND_AFTER_DISCONNECT_OSERROR",
    "InMemoryServer",
    "check_quirks",
]

# The app's receive() reports the client's leaving with code 1006 (and no reason), whatever
# code and reason the client closed with, as hypercorn 0.18 does (docs/design.md §6).
DISCONNECT_1006 = "disconnect_1006"
# A send after the app's own close (or its refusal) is silently dropped instead of raising
# RuntimeError, as some servers do.
SEND_AFTER_CLOSE_IGNORED = "send_after_close_ignored"
# A send after the app's own close (or its refusal) raises OSError instead of RuntimeError.
SEND_AFTER_CLOSE_OSERROR = "send_after_close_oserror"
# A send after the client left raises OSError, as uvicorn and ASGI 2.4 servers do, instead
# of being silently dropped as hypercorn does.
SEND_AFTER_DISCONNECT_OSERROR = "send_after_disconnect_oserror"

QUIRKS = frozenset(
    {
        DISCONNECT_1006,
        SEND_AFTER_CLOSE_IGNORED,
        SEND_AFTER_CLOSE_OSERROR,
        SEND_AFTER_DISCONNECT_OSERROR,
    }
)


def check_quirks(quirks: Iterable[str]) -> frozenset[str]:
    """The quirks as a frozen set; unknown names, and the two answers to a send after the
    close together, are errors."""
    if isinstance(quirks, str):
        raise TypeError(f"quirks expected an iterable of quirk names, got str {quirks!r}")
    chosen = frozenset(quirks)
    unknown = sorted(str(name) for name in chosen - QUIRKS)
    if unknown:
        raise ValueError(f"quirks expected names among {sorted(QUIRKS)}, got {unknown}")
    if {SEND_AFTER_CLOSE_IGNORED, SEND_AFTER_CLOSE_OSERROR} <= chosen:
        raise ValueError(
            f"quirks {SEND_AFTER_CLOSE_IGNORED!r} and {SEND_AFTER_CLOSE_OSERROR!r} exclude "
            f"each other"
        )
    return chosen


class InMemoryServer:
    """ASGI's server side for one WebSocket connection, with the state a test inspects."""

    def __init__(self, scope: Scope, queue_size: int, quirks: Iterable[str] = frozenset()) -> None:
        self.scope = scope
        self.quirks = check_quirks(quirks)
        self.state = "connecting"  # connecting, open, refused, closed (by the app), gone
        self.accepted = False
        self.accepted_subprotocol: str | None = None
        self.accept_headers: list[tuple[bytes, bytes]] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.sent: list[Message] = []  # every message the app sent, in order
        self.violations: list[str] = []
        # what this server raised into the app at a violation (told apart from app errors)
        self.violation_errors: list[BaseException] = []
        self.disconnect_received = False  # whether the app's receive() returned the disconnect
        self._inbound: asyncio.Queue[Message] = asyncio.Queue(queue_size)
        self._outbound: asyncio.Queue[Message] = asyncio.Queue()
        self._handshake = asyncio.Event()
        self._denial: Message | None = None
        self._dropped: Message | None = None  # a drop's disconnect, waiting for queue room

    async def _receive(self) -> Message:
        event = await self._inbound.get()
        if self._dropped is not None:  # a drop found the queue full: it goes in behind
            self._inbound.put_nowait(self._dropped)
            self._dropped = None
        if event["type"] == "websocket.disconnect":
            self.disconnect_received = True
            if DISCONNECT_1006 in self.quirks:
                return {"type": "websocket.disconnect", "code": 1006}
        return event

    def _drop(self, code: int = 1006) -> None:
        """The client is gone under an open connection (a lost network: 1006): the app's
        receive() reports ``code`` after the frames already queued, and the client waits for
        nothing (not even for room in a full queue)."""
        self.state = "gone"
        event: Message = {"type": "websocket.disconnect", "code": code}
        if self._inbound.full():
            self._dropped = event
        else:
            self._inbound.put_nowait(event)

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
                    text = f"expected exactly one of str 'text' or bytes 'bytes', got {message!r}"
                    self._violate(text)
                    raise TypeError(text)  # like hypercorn, which refuses a bad message
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
            if SEND_AFTER_DISCONNECT_OSERROR in self.quirks:
                raise OSError(f"the client has disconnected ({kind!r} not sent)")
            return  # like hypercorn: a send after the client left is dropped
        else:
            self._violate(
                f"expected nothing after the connection ended ({self.state}), got {message!r}"
            )
            if SEND_AFTER_CLOSE_IGNORED in self.quirks:
                return
            error: Exception = RuntimeError(f"unexpected ASGI message {kind!r} after the close")
            if SEND_AFTER_CLOSE_OSERROR in self.quirks:
                error = OSError(f"the connection is closed ({kind!r} not sent)")
            self.violation_errors.append(error)
            raise error

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
