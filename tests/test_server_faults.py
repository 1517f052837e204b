"""Lifecycle faults that showed only under a real server, each tried the way it broke
(docs/design.md §2, the guarantees), over a real hypercorn 0.18 on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.client import connect

from tests.serving import server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()

TIMEOUT = 5.0


async def test_a_stream_that_only_yields_does_not_freeze_the_worker_after_its_client_left(serve):
    # hypercorn's send returns without suspending once the client has left: without a loop
    # turn from the driver, the stream spins for ever, the other connections freeze and
    # SIGTERM is ignored.
    server = serve("tests.server_apps:spin_and_echo")
    async with connect(server.ws_url("/spin?one"), open_timeout=TIMEOUT) as spinning:
        for _ in range(3):
            assert (await asyncio.wait_for(spinning.recv(), TIMEOUT)).startswith("spin ")
        spinning.transport.abort()  # the client vanishes: no close frame
    await server.wait_for_report("on_close one")
    started = time.monotonic()
    async with connect(server.ws_url("/echo?two"), open_timeout=TIMEOUT) as echo:
        await echo.send("still there?")
        assert await asyncio.wait_for(echo.recv(), 1.0) == "still there?"
    assert time.monotonic() - started < 1.0
    report = [line.split(" ", 1)[1] for line in server.report()]
    assert report[:3] == ["spin started one", "on_disconnect one", "on_close one"]
    server.terminate()
    assert await server.wait_exit(server.graceful_timeout + 2) == server.sigterm_exit
