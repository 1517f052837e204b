"""Plain ASGI: reading the server's websocket events, and the answer to an HTTP request at a
websocket endpoint (lifespan: ``lifespan.py``). Pure but for the sends of that answer."""

from __future__ import annotations

from .errors import ProtocolError, WSDisconnect
from .types import Frame, Message, Receive, Send

__all__ = ["incoming", "upgrade_required"]


def incoming(event: Message) -> Frame | WSDisconnect:
    """What a server's event on an open connection says: a frame (``str`` or ``bytes``), or
    the client's disconnect. Raises ``ProtocolError`` for an event ASGI does not allow here."""
    kind = event["type"]
    if kind == "websocket.receive":
        text = event.get("text")
        if text is not None:
            return text  # type: ignore[no-any-return]
        data = event.get("bytes")
        if data is not None:
            return data  # type: ignore[no-any-return]
        raise ProtocolError(
            "expected 'text' or 'bytes' in a 'websocket.receive' event, got neither"
        )
    if kind == "websocket.disconnect":
        return WSDisconnect(event.get("code", 1005), event.get("reason") or "")
    raise ProtocolError(
        f"expected a 'websocket.receive' or 'websocket.disconnect' event, got {kind!r}"
    )


UPGRADE_BODY = b"426 Upgrade Required: this endpoint speaks WebSocket\n"


async def upgrade_required(receive: Receive, send: Send) -> None:
    """Answer a plain HTTP request with 426 Upgrade Required."""
    await send(
        {
            "type": "http.response.start",
            "status": 426,
            "headers": [
                (b"upgrade", b"websocket"),
                (b"connection", b"Upgrade"),
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(UPGRADE_BODY)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": UPGRADE_BODY, "more_body": False})
