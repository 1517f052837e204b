"""examples/rooms.py through the in-memory client: rooms, JSON, the broadcast, the page."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from examples import rooms
from examples.rooms import app, broadcast
from shallot_ws.testing import HandshakeRefused, WSTimeout, connect


async def joined(ws, room):
    """Read the greeting; the client's id."""
    hello = json.loads(await ws.receive())
    assert hello["room"] == room
    return hello["you"]


def members(room):
    """How many clients the room has: its channel's subscriptions."""
    return broadcast.subscribers(f"room:{room}")


async def test_clients_in_one_room_see_each_others_messages_and_no_one_else_does(no_leaked_tasks):
    async with (
        connect(app, "/rooms/blue") as ann,
        connect(app, "/rooms/blue") as bob,
        connect(app, "/rooms/green") as cid,
    ):
        a, b = await joined(ann, "blue"), await joined(bob, "blue")
        await joined(cid, "green")
        assert a != b and all(re.fullmatch(r"c[1-9][0-9]*", x) for x in (a, b))  # c1, c2, ...
        assert members("blue") == 2 and members("green") == 1

        await ann.send(json.dumps({"text": "hi bob"}))
        expected = {"room": "blue", "text": "hi bob", "from": a}
        assert json.loads(await ann.receive()) == expected  # the sender gets it too
        assert json.loads(await bob.receive()) == expected
        await bob.send(json.dumps({"text": "hi ann"}))
        assert json.loads(await ann.receive()) == {"room": "blue", "text": "hi ann", "from": b}
        assert json.loads(await bob.receive()) == {"room": "blue", "text": "hi ann", "from": b}

        with pytest.raises(WSTimeout):
            await cid.receive(timeout=0.1)  # another room hears nothing
    no_leaked_tasks()


async def test_leaving_unsubscribes(no_leaked_tasks):
    async with connect(app, "/rooms/leave-a") as first:
        one = await joined(first, "leave-a")
        async with connect(app, "/rooms/leave-a") as second:
            await joined(second, "leave-a")
            assert members("leave-a") == 2
        assert members("leave-a") == 1
        await first.send(json.dumps({"text": "alone"}))
        assert json.loads(await first.receive()) == {
            "room": "leave-a",
            "text": "alone",
            "from": one,
        }
    assert members("leave-a") == 0
    no_leaked_tasks()


async def test_invalid_json_closes_with_1007_and_leaves_the_room():
    async with connect(app, "/rooms/bad") as ws:
        await joined(ws, "bad")
        await ws.send("{not json")
        assert await ws.wait_closed() == 1007
        assert ws.close_reason == "invalid JSON"
    assert members("bad") == 0


async def test_json_of_another_shape_gets_an_error_and_the_connection_stays():
    async with connect(app, "/rooms/shape") as ws:
        me = await joined(ws, "shape")
        for frame in ('["text"]', '{"text": 5}', '"hello"'):
            await ws.send(frame)
            assert json.loads(await ws.receive()) == {"error": 'expected {"text": "..."}'}
        await ws.send(json.dumps({"text": "still here"}))
        assert json.loads(await ws.receive())["from"] == me


async def test_a_binary_frame_closes_with_1007_since_wrap_json_reads_text():
    async with connect(app, "/rooms/binary") as ws:
        await joined(ws, "binary")
        await ws.send(b'{"text": "hi"}')
        assert await ws.wait_closed() == 1007
        assert ws.close_reason == "expected a text frame"
    assert members("binary") == 0


async def test_a_client_too_slow_for_its_queue_is_closed_with_1013(no_leaked_tasks):
    async with connect(app, "/rooms/slow") as ws:
        await joined(ws, "slow")
        for n in range(rooms.QUEUE_SIZE + 1):  # publish never suspends: the handler takes none
            await broadcast.publish("room:slow", {"room": "slow", "text": str(n), "from": "flood"})
        assert await ws.wait_closed() == 1013
        assert ws.close_reason == "too slow: messages were dropped"
    assert members("slow") == 0
    no_leaked_tasks()


async def test_a_server_cancel_stops_the_handler_and_its_tasks(no_leaked_tasks):
    conn = connect(app, "/rooms/cancel")
    await conn.__aenter__()
    await joined(conn, "cancel")
    conn._task.cancel()
    await asyncio.wait((conn._task,))
    assert conn._task.cancelled()  # the CancelledError went all the way out
    assert members("cancel") == 0
    no_leaked_tasks()


async def test_other_paths_are_refused():
    for path in ("/rooms/", "/rooms/a/b", "/lobby"):
        with pytest.raises(HandshakeRefused) as info:
            async with connect(app, path):
                pass
        assert info.value.status == 404


async def test_http_gets_the_page_through_the_fallback_and_lifespan_completes():
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    await app({"type": "http", "path": "/", "root_path": "/svc"}, receive, send)
    assert sent[0]["status"] == 200
    page = sent[1]["body"].decode()
    assert 'startsWith("/svc" + "/rooms/")' in page
    assert ': "/svc/rooms/lobby";' in page
    assert sent[0]["headers"][1] == (b"content-length", str(len(sent[1]["body"])).encode())

    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent.clear()

    async def lifespan_receive():
        return next(events)

    await app({"type": "lifespan"}, lifespan_receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
