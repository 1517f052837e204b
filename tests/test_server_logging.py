"""wrap_logging under real servers (hypercorn, uvicorn, granian): silent until Python logging
is configured, as docs/middlewares.md says, and heard once the two documented lines have run."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from tests.serving import server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()


async def say_hi(url: str) -> None:
    async with connect(url, open_timeout=5) as ws:
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), 5) == "hi"


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn", "granian"])
async def test_wrap_logging_is_silent_until_logging_is_configured(serve, server):
    # the servers' own logging defaults, as `hypercorn module:app` runs them
    silent = serve("tests.logging_apps:silent", server, log_config=False)
    heard = serve("tests.logging_configured:app", server, log_config=False)
    await say_hi(silent.ws_url("/echo"))
    await say_hi(heard.ws_url("/echo"))
    for live in (silent, heard):
        live.stop()
    assert "websocket open /echo" not in silent.log()
    log = heard.log()
    assert "INFO shallot_ws.access: websocket open /echo from 127.0.0.1:" in log
    assert "INFO shallot_ws.access: websocket closed /echo from 127.0.0.1:" in log
