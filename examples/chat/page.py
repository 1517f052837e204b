"""The router's fallback: the chat page at ``/``, 404 elsewhere (the router's ``lifespan``
closes the broadcast at shutdown: see ``__init__.py``)."""

from __future__ import annotations

from pathlib import Path

from shallot_ws.types import Receive, Scope, Send

__all__ = ["PAGE", "page"]

PAGE = Path(__file__).with_name("page.html").read_bytes()  # plain HTML and inline JS
NOT_FOUND = b"404 Not Found\n"
NOT_ALLOWED = b"405 Method Not Allowed\n"
TEXT = b"text/plain; charset=utf-8"


async def _respond(send: Send, status: int, content_type: bytes, body: bytes, head: bool) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def page(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app for ``http`` scopes: the page at ``/`` (GET and HEAD), 404 elsewhere."""
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
