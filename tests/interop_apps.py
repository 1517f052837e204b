"""ASGI apps for the interop tests: shallot_ws apps inside Starlette and Litestar, and a stream
that shows how the servers differ. Served as ``tests.interop_apps:NAME`` by ``tests.serving``
and connected to in memory by ``shallot_ws.testing.connect``.

Both framework apps have the same routes, each answered through the framework's own router:

- ``GET /``: the framework's own HTTP route (``text/plain``, ``"<framework> page"``);
- ``/ws/echo``: ``examples.echo.echo``;
- ``/ws/rooms/{room}``: ``where``, which first sends what it sees of the scope, then echoes;
- ``/ws/locked``: refused in ``on_connect`` with ``ws_deny(401, "no")``;
- ``/sub/...``: ``where`` mounted under a prefix (any path below it).

Importing this module builds the apps and does nothing else.
"""

from __future__ import annotations

import asyncio
import json

from litestar import Litestar, asgi, get
from litestar.handlers import ASGIRouteHandler
from litestar.types import Receive, Scope, Send
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute

from examples.echo import echo
from shallot_ws import WebSocketApp, websocket, ws_deny, ws_send
from tests.server_apps import connection_id, report

__all__ = [
    "DENIAL_BODY",
    "DENIAL_STATUS",
    "DEAF_INTERVAL",
    "DEAF_MAX_BUFFERED",
    "deaf_stream",
    "litestar_app",
    "locked",
    "mounted_in_litestar",
    "starlette_app",
    "where",
]

DENIAL_STATUS = 401
DENIAL_BODY = "no"


# -- the shallot_ws apps the frameworks mount -------------------------------------------


@websocket
async def where(scope, receiver):
    """Sends, as JSON, what the framework's router left in the scope; then echoes each frame."""
    yield ws_send(
        json.dumps(
            {
                "path": scope["path"],
                "root_path": scope.get("root_path", ""),
                "path_params": scope.get("path_params"),
            }
        )
    )
    async for message in receiver:
        yield ws_send(f"where: {message}")


async def _no_token(scope):
    return ws_deny(DENIAL_STATUS, DENIAL_BODY)


@websocket(on_connect=_no_token)
async def locked(scope, receiver):
    """Never runs: ``on_connect`` refuses every connection with HTTP 401 ``no``."""
    yield ws_send("this connection should have been refused")


# -- Starlette ------------------------------------------------------------------------------


async def starlette_page(request: Request) -> PlainTextResponse:
    return PlainTextResponse("starlette page")


# A WebSocketApp is an instance, not a function, so WebSocketRoute and Mount take it as a
# plain ASGI app (a function would be taken as an endpoint ``f(websocket)``).
starlette_app = Starlette(
    routes=[
        Route("/", starlette_page),
        WebSocketRoute("/ws/echo", echo),
        WebSocketRoute("/ws/rooms/{room}", where),
        WebSocketRoute("/ws/locked", locked),
        Mount("/sub", app=where),
    ]
)


# -- Litestar -------------------------------------------------------------------------------


def mounted_in_litestar(path: str, app: WebSocketApp, **options: object) -> ASGIRouteHandler:
    """Litestar's ``@asgi`` route handler for ``app`` at ``path``.

    Litestar builds its handlers from the decorated function's signature (annotated
    ``scope``, ``receive``, ``send``, returning ``None``), so the shallot_ws app is called
    from a small function that has that signature. (Passing the app itself fails: see
    ``test_litestar_asgi_takes_a_websocket_app_as_it_is``.)
    """

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)  # type: ignore[arg-type]

    return asgi(path, copy_scope=True, **options)(serve)  # type: ignore[arg-type]


@get("/", media_type="text/plain")
async def litestar_page() -> str:
    return "litestar page"


# logging_config=None: Litestar's default LoggingConfig reconfigures the root logger when
# the app is built (at import), which would replace the server's --log-config format here.
litestar_app = Litestar(
    route_handlers=[
        litestar_page,
        mounted_in_litestar("/ws/echo", echo),
        mounted_in_litestar("/ws/rooms/{room:str}", where),
        mounted_in_litestar("/ws/locked", locked),
        mounted_in_litestar("/sub", where, is_mount=True),
    ],
    logging_config=None,
)


# -- a stream that never reads, for the servers' differences ---------------------------------

DEAF_MAX_BUFFERED = 2  # frames the driver reads ahead of the handler
DEAF_STALL_TIMEOUT = 0.3  # the buffer full this long, untouched: read on, dropping
DEAF_INTERVAL = 0.05  # seconds between two messages


async def _deaf_disconnect(scope):
    report(f"on_disconnect {connection_id(scope)}")


async def _deaf_close(scope):
    report(f"on_close {connection_id(scope)}")


async def _deaf(scope, receiver):
    """Yields ``n <count>`` every ``DEAF_INTERVAL`` s and never reads the receiver."""
    cid = connection_id(scope)
    sent = 0
    try:
        while True:
            yield ws_send(f"n {sent}")
            sent += 1
            await asyncio.sleep(DEAF_INTERVAL)  # the stream's own pace, in a server process
    finally:
        gone = receiver.disconnected
        code = None if gone is None else gone.code
        report(f"deaf finally {cid} after {sent} disconnect={code}")


deaf_stream = websocket(
    on_disconnect=_deaf_disconnect,
    on_close=_deaf_close,
    max_buffered=DEAF_MAX_BUFFERED,
    stall_timeout=DEAF_STALL_TIMEOUT,
)(_deaf)
