"""The router's fallback: the chat page at ``/``, 404 elsewhere, and the lifespan, whose
shutdown closes the broadcast (its Redis connections, if any)."""

from __future__ import annotations

import logging
from pathlib import Path

from shallot_ws.broadcast import Broadcast
from shallot_ws.types import ASGIApp, Receive, Scope, Send

__all__ = ["PAGE", "page_app"]

logger = logging.getLogger("examples.chat")

PAGE = Path(__file__).with_name("page.html").read_bytes()  # plain HTML and inline JS
NOT_FOUND = b"404 Not Found\n"
NOT_ALLOWED = b"405 Method Not Allowed\n"
TEXT = b"text/plain; charset=utf-8"


async def _respond(send: Send, status: int, content_type: bytes, body: bytes, head: bool) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def page_app(broadcast: Broadcast) -> ASGIApp:
    """An ASGI app for ``http`` and ``lifespan`` scopes, closing ``broadcast`` at shutdown."""

    async def page(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            try:
                await broadcast.aclose()
            except Exception:  # the server must still shut down
                logger.exception("chat: closing the broadcast failed")
            await send({"type": "lifespan.shutdown.complete"})
            return
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        head = scope["method"] == "HEAD"
        if path not in ("", "/"):
            await _respond(send, 404, TEXT, NOT_FOUND, head)
        elif scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, TEXT, NOT_ALLOWED, head)
        else:
            await _respond(send, 200, b"text/html; charset=utf-8", PAGE, head)

    return page
