"""Plain ASGI answers for the scopes a websocket app meets besides ``websocket``."""

from __future__ import annotations

from .errors import ProtocolError
from .types import Receive, Send

__all__ = ["serve_lifespan", "upgrade_required"]

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


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Complete the lifespan protocol: startup, then shutdown; nothing to set up."""
    while True:
        event = await receive()
        kind = event["type"]
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
        else:
            raise ProtocolError(
                f"expected a 'lifespan.startup' or 'lifespan.shutdown' event, got {kind!r}"
            )
