"""examples/chat behind real hypercorn processes, sharing rooms through a real redis-server.

Two ``hypercorn examples.chat:app`` processes on two ports, both pointed at one
redis-server by ``SHALLOT_WS_CHAT_BROADCAST``, a ``websockets`` client on each: what one
client says reaches the other, presence spans both processes, and history lives in Redis.
The same app on its default memory backend serves its page and a round trip.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from examples.chat import ENV
from tests.serving import http_get, server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()

TIMEOUT = 5.0  # any single network wait

# On SIGTERM, hypercorn 0.18 under Python 3.12+ never cancels an open connection
# (hypercorn#308; see tests/test_server_lifecycle.py): it waits for the client to leave.
HYPERCORN_WAITS_FOREVER = sys.version_info >= (3, 12)


async def frame(ws) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def say(ws, text: str) -> None:
    await ws.send(json.dumps({"text": text}))


def history(*messages: dict[str, str]) -> dict[str, Any]:
    return {"type": "history", "messages": list(messages)}


def presence(*members: str) -> dict[str, Any]:
    return {"type": "presence", "members": list(members)}


def message(user: str, text: str) -> dict[str, str]:
    return {"type": "message", "user": user, "text": text}


def two_processes(serve, url: str, second_server: str = "hypercorn"):
    env = {ENV: url}
    return (
        serve("examples.chat:app", env=env),
        serve("examples.chat:app", server=second_server, env=env),
    )


async def test_two_processes_share_a_room_through_redis_streams(serve, redis_server):
    first, second = two_processes(serve, redis_server.url.replace("redis://", "redis-stream://"))
    assert first.port != second.port
    async with connect(first.ws_url("/rooms/blue?name=ada"), open_timeout=TIMEOUT) as ada:
        assert await frame(ada) == history()
        assert await frame(ada) == presence("ada")
        async with connect(second.ws_url("/rooms/blue?name=bob"), open_timeout=TIMEOUT) as bob:
            assert await frame(bob) == history()
            assert await frame(bob) == presence("bob")
            assert await frame(bob) == presence("ada", "bob")  # ada's answer, from process 1
            assert await frame(ada) == presence("ada", "bob")  # bob's join, from process 2

            await say(ada, "hello from process 1")
            assert await frame(ada) == message("ada", "hello from process 1")
            assert await frame(bob) == message("ada", "hello from process 1")
            await say(bob, "hello from process 2")
            assert await frame(bob) == message("bob", "hello from process 2")
            assert await frame(ada) == message("bob", "hello from process 2")
        assert await frame(ada) == presence("ada")  # bob left process 2

        # History lives in Redis: a newcomer on either process gets it.
        async with connect(second.ws_url("/rooms/blue?name=cid"), open_timeout=TIMEOUT) as cid:
            assert await frame(cid) == history(
                message("ada", "hello from process 1"), message("bob", "hello from process 2")
            )
            assert await frame(cid) == presence("cid")
            assert await frame(cid) == presence("ada", "cid")
            assert await frame(ada) == presence("ada", "cid")


@pytest.mark.parametrize("other", ["uvicorn", "granian"])
async def test_a_hypercorn_process_and_another_servers_share_a_room(serve, redis_server, other):
    url = redis_server.url.replace("redis://", "redis-stream://")
    first, second = two_processes(serve, url, second_server=other)
    async with connect(first.ws_url("/rooms/red?name=ada"), open_timeout=TIMEOUT) as ada:
        assert [await frame(ada), await frame(ada)] == [history(), presence("ada")]
        await say(ada, "from hypercorn")
        assert await frame(ada) == message("ada", "from hypercorn")
        async with connect(second.ws_url("/rooms/red?name=bob"), open_timeout=TIMEOUT) as bob:
            assert await frame(bob) == history(message("ada", "from hypercorn"))
            assert await frame(bob) == presence("bob")
            assert await frame(bob) == presence("ada", "bob")
            assert await frame(ada) == presence("ada", "bob")
            await say(bob, f"from {other}")
            assert await frame(bob) == message("bob", f"from {other}")
            assert await frame(ada) == message("bob", f"from {other}")
        assert await frame(ada) == presence("ada")


async def test_two_processes_share_a_room_through_redis_pubsub_without_history(serve, redis_server):
    first, second = two_processes(serve, redis_server.url)
    async with connect(first.ws_url("/rooms/blue?name=ada"), open_timeout=TIMEOUT) as ada:
        assert [await frame(ada), await frame(ada)] == [history(), presence("ada")]
        await say(ada, "before bob")
        assert await frame(ada) == message("ada", "before bob")
        async with connect(second.ws_url("/rooms/blue?name=bob"), open_timeout=TIMEOUT) as bob:
            assert await frame(bob) == history()  # pub/sub keeps nothing
            assert await frame(bob) == presence("bob")
            assert await frame(bob) == presence("ada", "bob")
            assert await frame(ada) == presence("ada", "bob")
            await say(bob, "hi ada")
            assert await frame(bob) == message("bob", "hi ada")
            assert await frame(ada) == message("bob", "hi ada")
        assert await frame(ada) == presence("ada")


@pytest.mark.parametrize("server_name", ["hypercorn", "granian"])
async def test_on_the_memory_backend_the_page_and_a_round_trip(serve, server_name):
    server = serve("examples.chat:app", server_name)
    status, headers, body = http_get(server.url("/"))
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert body.startswith(b"<!doctype html>") and b"shallot_ws: chat" in body
    assert http_get(server.url("/elsewhere"))[:3:2] == (404, b"404 Not Found\n")

    async with connect(server.ws_url("/rooms/blue?name=ada"), open_timeout=TIMEOUT) as ada:
        assert [await frame(ada), await frame(ada)] == [history(), presence("ada")]
        await say(ada, "hi")
        assert await frame(ada) == message("ada", "hi")
        await ada.send("[1]")
        assert await frame(ada) == {
            "type": "error",
            "error": "$: expected object, got array",
        }
    async with connect(server.ws_url("/rooms/blue?name=bob"), open_timeout=TIMEOUT) as bob:
        assert await frame(bob) == history(message("ada", "hi"))

    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url("/rooms/blue?name="), open_timeout=TIMEOUT):
            pass
    assert refused.value.response.status_code == 400
    assert refused.value.response.body == b"name expected 1 to 32 characters, got 0"


async def test_a_process_that_shuts_down_takes_its_members_out_of_the_others_lists(
    serve, redis_server
):
    first, second = two_processes(serve, redis_server.url.replace("redis://", "redis-stream://"))
    async with (
        connect(first.ws_url("/rooms/blue?name=ada"), open_timeout=TIMEOUT) as ada,
        connect(second.ws_url("/rooms/blue?name=bob"), open_timeout=TIMEOUT) as bob,
    ):
        assert [await frame(ada), await frame(ada)] == [history(), presence("ada")]
        assert [await frame(bob), await frame(bob), await frame(bob)] == [
            history(),
            presence("bob"),
            presence("ada", "bob"),
        ]
        assert await frame(ada) == presence("ada", "bob")
        first.terminate()  # SIGTERM: hypercorn's graceful shutdown
        if HYPERCORN_WAITS_FOREVER:  # it never ends the connection: the client must leave
            await ada.close()
        else:  # it cancels the connection after the grace period: the driver closes with 1012
            with pytest.raises(ConnectionClosed) as closed:
                await frame(ada)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        assert await frame(bob) == presence("bob")  # ada's connection said leave on its way out
        assert await first.wait_exit() == 0
    assert " examples.chat: " not in first.log(), "nothing failed to publish"


async def test_a_granian_process_that_shuts_down_may_leave_its_members_in_the_others_lists(
    serve, redis_server
):
    # granian's shutdown (tests/test_interop_servers.py): its worker runs the lifespan
    # shutdown, which closes the Broadcast, while the connections' tasks are still suspended,
    # then exits without resuming them; ada's client sees the TCP connection drop without a
    # close frame. Her connection wakes on its ended subscription during that shutdown and
    # says leave: a race with the Broadcast's close. Measured both ways: the leave reaches
    # bob, or it finds the Broadcast closed (logged) and bob keeps ada in his list until the
    # presence heartbeats expire her (three heartbeats, 30 s by default: examples/chat/room.py).
    url = redis_server.url.replace("redis://", "redis-stream://")
    first = serve("examples.chat:app", "granian", env={ENV: url})
    second = serve("examples.chat:app", env={ENV: url})
    async with (
        connect(first.ws_url("/rooms/blue?name=ada"), open_timeout=TIMEOUT) as ada,
        connect(second.ws_url("/rooms/blue?name=bob"), open_timeout=TIMEOUT) as bob,
    ):
        assert [await frame(ada), await frame(ada)] == [history(), presence("ada")]
        assert [await frame(bob), await frame(bob), await frame(bob)] == [
            history(),
            presence("bob"),
            presence("ada", "bob"),
        ]
        assert await frame(ada) == presence("ada", "bob")
        first.terminate()
        with pytest.raises(ConnectionClosed) as closed:
            await frame(ada)
        assert closed.value.rcvd is None, "granian sent a close frame"
        assert await first.wait_exit() == 0
        try:  # the leave comes at once, or never: a second of silence is enough
            heard = await asyncio.wait_for(frame(bob), 1.0)
        except asyncio.TimeoutError:
            heard = None
    warnings = [line for line in first.log().splitlines() if " examples.chat: " in line]
    if heard is None and first.panicked():  # granian's Rust panic at SIGTERM: nothing ran
        assert warnings == []
    elif heard is None:  # ada's leave lost the race
        [warning] = warnings
        assert warning.endswith(
            f" WARNING examples.chat: chat: Broadcast({url!r}, keep=50) is closed"
        )
    else:  # it won it
        assert (heard, warnings) == (presence("bob"), [])
