"""examples/auth.py behind a real hypercorn and a real granian, talked to with the websockets
client."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.serving import server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()

TIMEOUT = 5.0  # any single network wait


async def refused(url: str, **options) -> InvalidStatus:
    """Open a connection that the server must refuse; the client's exception."""
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, open_timeout=TIMEOUT, proxy=None, **options):
            pytest.fail("the server accepted the handshake")
    return info.value


@pytest.mark.parametrize("server_name", ["hypercorn", "granian"])
async def test_tokens_by_header_and_query_are_greeted_others_get_401_and_403(serve, server_name):
    server = serve("examples.auth:app", server_name)

    bearer = {"Authorization": "Bearer bob-token"}
    async with connect(
        server.ws_url("/"), additional_headers=bearer, open_timeout=TIMEOUT, proxy=None
    ) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "Hello, bob!"
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "bob: hi"

    async with connect(
        server.ws_url("/?token=ann-token"),
        origin="http://127.0.0.1:8000",
        open_timeout=TIMEOUT,
        proxy=None,
    ) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "Hello, ann!"

    invalid = await refused(server.ws_url("/?token=eve-token"))
    assert invalid.response.status_code == 401
    assert invalid.response.body == b"invalid token"
    assert invalid.response.headers["WWW-Authenticate"] == (
        'Bearer realm="examples.auth", error="invalid_token"'
    )

    missing = await refused(server.ws_url("/"))
    assert (missing.response.status_code, missing.response.body) == (
        401,
        b"authentication required",
    )

    foreign = await refused(
        server.ws_url("/"), origin="https://evil.example", additional_headers=bearer
    )
    assert (foreign.response.status_code, foreign.response.body) == (403, b"origin not allowed")
