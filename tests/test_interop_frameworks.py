"""shallot_ws apps mounted inside Starlette and Litestar, through the frameworks' own routing.

The apps are ``tests.interop_apps.starlette_app`` and ``tests.interop_apps.litestar_app``
(the same routes in each). Each is served by a real hypercorn, uvicorn and granian, one server
per framework and server for the whole module, and also driven in memory with
``shallot_ws.testing.connect``, which tests the mounting without a network.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from litestar import Litestar, asgi
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from examples.echo import echo
from shallot_ws.testing import AppClosed, HandshakeRefused
from shallot_ws.testing import connect as connect_in_memory
from tests import interop_apps
from tests.serving import http_get, server_fixture

FRAMEWORKS = ["starlette", "litestar"]
SERVERS = ["hypercorn", "uvicorn", "granian"]
TIMEOUT = 5.0  # any single network wait

APPS = {"starlette": interop_apps.starlette_app, "litestar": interop_apps.litestar_app}

# Where a mounted app finds itself when the client asked for /sub/a/b. Starlette keeps the
# full path and moves the prefix into root_path (the ASGI convention); Litestar rewrites
# ``path`` to the rest, with a trailing slash added, and leaves root_path alone.
MOUNTED_AT = {
    "starlette": {"path": "/sub/a/b", "root_path": "/sub", "path_params": {}},
    "litestar": {"path": "/a/b/", "root_path": "", "path_params": {}},
}


async def recv(ws) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


# -- behind a real server ---------------------------------------------------------------

serve = server_fixture("module")


@pytest.fixture(
    scope="module",
    params=[(framework, server) for framework in FRAMEWORKS for server in SERVERS],
    ids=lambda param: "-".join(param),
)
def served(request, serve):
    """(framework, the running server) for each framework behind each server."""
    framework, server = request.param
    return framework, serve(f"tests.interop_apps:{framework}_app", server)


@pytest.mark.server
async def test_echo_through_the_frameworks_router(served):
    _, live = served
    async with connect(live.ws_url("/ws/echo"), open_timeout=TIMEOUT) as ws:
        await ws.send("hi")
        assert await recv(ws) == "@ECHO: hi"
        await ws.send("exit")
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
    assert info.value.rcvd is not None, "the server dropped the connection without a close"
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1001, "bye")


@pytest.mark.server
async def test_a_path_param_from_the_frameworks_router_reaches_the_handler(served):
    _, live = served
    async with connect(live.ws_url("/ws/rooms/lobby"), open_timeout=TIMEOUT) as ws:
        seen = json.loads(await recv(ws))
        await ws.send("x")
        assert await recv(ws) == "where: x"
    assert seen == {"path": "/ws/rooms/lobby", "root_path": "", "path_params": {"room": "lobby"}}


@pytest.mark.server
async def test_an_app_mounted_under_a_prefix_sees_the_frameworks_path(served):
    framework, live = served
    async with connect(live.ws_url("/sub/a/b"), open_timeout=TIMEOUT) as ws:
        seen = json.loads(await recv(ws))
    assert seen == MOUNTED_AT[framework]


@pytest.mark.server
async def test_a_denial_in_on_connect_reaches_the_client_through_the_framework(served):
    _, live = served
    with pytest.raises(InvalidStatus) as info:
        async with connect(live.ws_url("/ws/locked"), open_timeout=TIMEOUT):
            pytest.fail("the connection was accepted")
    response = info.value.response
    assert response.status_code == interop_apps.DENIAL_STATUS
    assert bytes(response.body) == interop_apps.DENIAL_BODY.encode()
    assert response.headers["content-type"].startswith("text/plain")
    assert "Traceback" not in live.log(), live.log()


@pytest.mark.server
def test_the_frameworks_own_http_route_still_answers(served):
    framework, live = served
    status, headers, body = http_get(live.url("/"))
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert body == f"{framework} page".encode()


# Plain HTTP to a WebSocket route: Starlette's WebSocketRoute matches websocket scopes only
# (404 from Starlette); Litestar's @asgi route takes every scope, so the app answers 426.
HTTP_TO_WEBSOCKET_ROUTE = {"starlette": 404, "litestar": 426}


@pytest.mark.server
def test_plain_http_to_the_mounted_shallot_app_gets_426(served):
    framework, live = served
    status, headers, body = http_get(live.url("/sub/a"))
    assert status == 426
    assert headers["upgrade"].lower() == "websocket"
    assert b"Upgrade Required" in body
    status, _, _ = http_get(live.url("/ws/echo"))
    assert status == HTTP_TO_WEBSOCKET_ROUTE[framework]


@pytest.mark.server
async def test_an_unrouted_websocket_path_is_refused_by_the_framework(served):
    # Both frameworks refuse with a close before the accept, which the servers send as 403.
    _, live = served
    with pytest.raises(InvalidStatus) as info:
        async with connect(live.ws_url("/nowhere"), open_timeout=TIMEOUT):
            pytest.fail("the connection was accepted")
    assert info.value.response.status_code == 403


# -- in memory: the same routing without a network ---------------------------------------

in_memory = pytest.mark.parametrize("framework", FRAMEWORKS)


@in_memory
async def test_in_memory_echo_through_the_frameworks_router(framework):
    async with connect_in_memory(APPS[framework], "/ws/echo") as ws:
        await ws.send("hi")
        assert await ws.receive() == "@ECHO: hi"
        await ws.send("exit")
        with pytest.raises(AppClosed) as closed:
            await ws.receive()
    assert (closed.value.code, closed.value.reason) == (1001, "bye")


@in_memory
async def test_in_memory_path_param_and_mount(framework):
    app = APPS[framework]
    async with connect_in_memory(app, "/ws/rooms/lobby") as ws:
        seen = json.loads(await ws.receive())
    assert seen["path_params"] == {"room": "lobby"}
    async with connect_in_memory(app, "/sub/a/b") as ws:
        assert json.loads(await ws.receive()) == MOUNTED_AT[framework]


@in_memory
@pytest.mark.parametrize("denial_response", [True, False])
async def test_in_memory_denial_through_the_framework(framework, denial_response):
    # Without the denial-response extension the refusal falls back to a plain 403.
    with pytest.raises(HandshakeRefused) as refused:
        async with connect_in_memory(
            APPS[framework], "/ws/locked", denial_response=denial_response
        ):
            pytest.fail("the connection was accepted")
    if denial_response:
        assert refused.value.status == interop_apps.DENIAL_STATUS
        assert refused.value.body == interop_apps.DENIAL_BODY.encode()
    else:
        assert (refused.value.status, refused.value.body) == (403, b"")


async def test_litestar_asgi_takes_a_websocket_app_as_it_is():
    app = Litestar(route_handlers=[asgi("/ws/echo", copy_scope=True)(echo)], logging_config=None)
    async with connect_in_memory(app, "/ws/echo") as ws:
        await ws.send("hi")
        assert await ws.receive() == "@ECHO: hi"
