"""The plain ASGI answer to an HTTP request at a websocket endpoint (lifespan: ``lifespan.py``)."""

from __future__ import annotations

from .types import Receive, Send

__all__ = ["upgrade_required"]

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
