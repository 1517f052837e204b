"""examples/chat through the in-memory client: history, messages, presence, bad input, page.

Each test builds the app over a fresh ``memory://`` broadcast (``make_app``); the
``ws_client`` fixture fails a test whose connections leave a task running.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

import pytest

from examples.chat import broadcast_from_env, make_app
from examples.chat.presence import Members
from examples.chat.protocol import (
    CHAT,
    HISTORY,
    Post,
    channels,
    chat_message,
    name_from_query,
    parse_chat,
    presence_event,
)
from examples.chat.room import CHAT_BUFFER, MAX_FRAME
from shallot_ws.broadcast import Broadcast
from shallot_ws.errors import BroadcastError
from shallot_ws.testing import HandshakeRefused, WSTimeout, virtual_time


@pytest.fixture
async def broadcast():
    broadcast = Broadcast("memory://", keep=HISTORY)
    yield broadcast
    await broadcast.aclose()


@pytest.fixture
def app(broadcast):
    return make_app(broadcast)


async def frame(ws) -> Any:
    return json.loads(await ws.receive())


async def say(ws, text: str) -> None:
    await ws.send(json.dumps({"text": text}))


def message(user: str, text: str) -> dict[str, str]:
    return {"type": "message", "user": user, "text": text}


def presence(*members: str) -> dict[str, Any]:
    return {"type": "presence", "members": list(members)}


async def enter(stack: AsyncExitStack, ws_client, app, room: str, name: str, history=()):
    """Join ``room`` as ``name``, check the history and the first presence list; the socket."""
    ws = await stack.enter_async_context(ws_client(app, f"/rooms/{room}?name={name}"))
    assert await frame(ws) == {"type": "history", "messages": list(history)}
    assert await frame(ws) == presence(name)  # the members known at once: itself
    return ws


async def nothing_more(*sockets) -> None:
    for ws in sockets:
        with pytest.raises(WSTimeout):
            await ws.receive(timeout=0.1)


# -- history -----------------------------------------------------------------------------


async def test_a_newcomer_gets_exactly_the_last_50_messages_oldest_first(ws_client, app):
    async with AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        for n in range(60):
            await say(ada, f"message {n}")
            assert await frame(ada) == message("ada", f"message {n}")
        last_50 = [message("ada", f"message {n}") for n in range(10, 60)]
        bob = await enter(stack, ws_client, app, "blue", "bob", history=last_50)
        assert await frame(bob) == presence("ada", "bob")
        await say(bob, "and one live")  # after the history, live messages: no gap, no repeat
        assert await frame(bob) == message("bob", "and one live")


async def test_comings_and_goings_do_not_push_messages_out_of_the_history(ws_client, app):
    async with AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        for n in range(HISTORY):
            await say(ada, f"m{n}")
            assert await frame(ada) == message("ada", f"m{n}")
    kept = [message("ada", f"m{n}") for n in range(HISTORY)]
    for visitor in range(HISTORY + 10):  # more presence events than the history holds
        async with ws_client(app, f"/rooms/blue?name=v{visitor}") as ws:
            assert (await frame(ws))["messages"] == kept
    async with AsyncExitStack() as stack:
        await enter(stack, ws_client, app, "blue", "bob", history=kept)


async def test_history_is_per_room(ws_client, app, broadcast):
    messages_of_blue = channels("blue")[0]
    await broadcast.publish(messages_of_blue, chat_message("ada", "in blue"))
    async with AsyncExitStack() as stack:
        await enter(stack, ws_client, app, "blue", "bob", history=[message("ada", "in blue")])
        await enter(stack, ws_client, app, "green", "cid", history=[])


# -- messages ----------------------------------------------------------------------------


async def test_two_clients_in_a_room_see_each_others_messages_and_no_other_room_does(
    ws_client, app
):
    async with AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        bob = await enter(stack, ws_client, app, "blue", "bob")
        assert await frame(bob) == presence("ada", "bob")
        assert await frame(ada) == presence("ada", "bob")
        cid = await enter(stack, ws_client, app, "green", "cid")

        await say(ada, "hi bob")
        assert await frame(ada) == message("ada", "hi bob")  # the sender gets it too
        assert await frame(bob) == message("ada", "hi bob")
        await say(bob, "hi ada")
        assert await frame(bob) == message("bob", "hi ada")
        assert await frame(ada) == message("bob", "hi ada")
        await nothing_more(ada, bob, cid)


# -- presence ----------------------------------------------------------------------------


async def test_presence_on_join_and_leave(ws_client, app):
    async with AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        async with AsyncExitStack() as bobs:
            bob = await enter(bobs, ws_client, app, "blue", "bob")
            assert await frame(bob) == presence("ada", "bob")  # ada answered bob's join
            assert await frame(ada) == presence("ada", "bob")
            async with AsyncExitStack() as cids:
                cid = await enter(cids, ws_client, app, "blue", "cid")
                first_answer = await frame(cid)  # ada's or bob's, in either order
                assert first_answer in (presence("ada", "cid"), presence("bob", "cid"))
                assert await frame(cid) == presence("ada", "bob", "cid")  # then the other
                assert await frame(ada) == presence("ada", "bob", "cid")
                assert await frame(bob) == presence("ada", "bob", "cid")
            assert await frame(ada) == presence("ada", "bob")  # cid left
            assert await frame(bob) == presence("ada", "bob")
        assert await frame(ada) == presence("ada")  # bob left
        await nothing_more(ada)


async def test_a_second_connection_of_a_name_is_one_member(ws_client, app):
    async with AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        bob = await enter(stack, ws_client, app, "blue", "bob")
        assert await frame(bob) == presence("ada", "bob")
        assert await frame(ada) == presence("ada", "bob")
        async with AsyncExitStack() as tabs:
            again = await enter(tabs, ws_client, app, "blue", "ada")
            assert await frame(again) == presence("ada", "bob")
            await say(again, "two tabs")
            for ws in (ada, bob, again):  # the names did not change: no presence frame first
                assert await frame(ws) == message("ada", "two tabs")
        await say(bob, "still here?")
        for ws in (ada, bob):  # one ada left, one stays: no presence frame either
            assert await frame(ws) == message("bob", "still here?")


async def test_a_member_that_never_says_leave_expires_after_three_missed_heartbeats(
    ws_client, broadcast
):
    app = make_app(broadcast, heartbeat=0.2)  # forgotten after 0.6 s without news
    presence_of_blue = channels("blue")[1]
    async with virtual_time() as clock, AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        bob = await enter(stack, ws_client, app, "blue", "bob")
        assert await frame(bob) == presence("ada", "bob")
        assert await frame(ada) == presence("ada", "bob")
        # A connection of a process that is then killed: it joins and is never heard of again.
        published = clock.now()
        await broadcast.publish(presence_of_blue, presence_event("join", "ghost-1", "gus"))
        for ws in (ada, bob):
            assert await frame(ws) == presence("ada", "bob", "gus")
        for ws in (ada, bob):
            assert await frame(ws) == presence("ada", "bob")
        assert 0.6 <= clock.now() - published < 1.5
        await clock.advance(1.0)  # five heartbeats: the living keep each other
        await say(ada, "still two")
        for ws in (ada, bob):
            assert await frame(ws) == message("ada", "still two")


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "error"),
    [
        ("[1, 2]", "$: expected object, got array"),
        ('"hello"', "$: expected object, got str"),
        ("{}", "$: missing field text"),
        ('{"text": "hi", "to": "bob"}', "$: unknown field"),
        ('{"msg": "hi"}', "$: unknown field"),
        ('{"text": 5}', "$.text: expected str, got int"),
        ('{"text": null}', "$.text: expected str, got null"),
        ('{"text": " \\n "}', "text expected something besides white space, got none"),
        (json.dumps({"text": "x" * 1001}), "$.text: expected str of length <= 1000"),
    ],
)
async def test_json_of_another_shape_gets_an_error_and_the_connection_stays(
    ws_client, app, sent, error
):
    async with AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        await ada.send(sent)
        assert await frame(ada) == {"type": "error", "error": error}
        await say(ada, "x" * 1000)  # the longest text there may be
        assert await frame(ada) == message("ada", "x" * 1000)


@pytest.mark.parametrize(
    ("sent", "code", "reason"),
    [
        ("{not json", 1007, "invalid JSON"),
        (b'{"text": "hi"}', 1007, "expected a text frame"),
        (json.dumps({"text": "x" * MAX_FRAME}), 1009, "frame too large"),
    ],
)
async def test_a_bad_frame_closes_that_connection_only(ws_client, app, sent, code, reason):
    async with AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        bob = await enter(stack, ws_client, app, "blue", "bob")
        assert await frame(bob) == presence("ada", "bob")
        assert await frame(ada) == presence("ada", "bob")
        await bob.send(sent)
        assert await bob.wait_closed() == code
        assert bob.close_reason == reason
        assert await frame(ada) == presence("ada")  # bob left, ada goes on
        await say(ada, "alone")
        assert await frame(ada) == message("ada", "alone")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/rooms/blue", "name expected in the query string (?name=...), got none"),
        ("/rooms/blue?nom=ada", "name expected in the query string (?name=...), got none"),
        ("/rooms/blue?name=", "name expected 1 to 32 characters, got 0"),
        ("/rooms/blue?name=%20%20", "name expected 1 to 32 characters, got 0"),
        ("/rooms/blue?name=" + "a" * 33, "name expected 1 to 32 characters, got 33"),
        ("/rooms/blue?name=a%00b", "name expected printable characters, got 'a\\x00b'"),
        ("/rooms/" + "r" * 65 + "?name=ada", "room expected 1 to 64 characters, got 65"),
    ],
)
async def test_a_missing_or_bad_name_is_refused_with_400_before_the_accept(
    ws_client, app, broadcast, path, body
):
    with pytest.raises(HandshakeRefused) as refused:
        async with ws_client(app, path):
            pass
    assert (refused.value.status, refused.value.body) == (400, body.encode())
    assert broadcast.subscribers(channels("blue")[0]) == 0  # the handler never ran


async def test_names_are_stripped_and_may_be_anything_printable(ws_client, app):
    async with ws_client(app, "/rooms/salle%20bleue?name=%20Zo%C3%AB%20") as ws:
        assert await frame(ws) == {"type": "history", "messages": []}
        assert await frame(ws) == presence("Zoë")
    assert name_from_query(b"name=%20Zo%C3%AB%20&name=eve") == "Zoë"


# -- slow clients, a closing broadcast, a lost broker ------------------------------------


async def test_a_client_that_falls_100_messages_behind_is_closed_with_1013(
    ws_client, app, broadcast
):
    async with AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        for n in range(CHAT_BUFFER + 1):  # published at once: the handler cannot keep up
            await broadcast.publish(channels("blue")[0], chat_message("flood", str(n)))
        assert await ada.wait_closed() == 1013
        assert ada.close_reason == "too slow: messages were dropped"


async def test_the_server_shutting_down_closes_the_connections_with_1012(ws_client, app, broadcast):
    async with AsyncExitStack() as stack:
        ada = await enter(stack, ws_client, app, "blue", "ada")
        # startup, then shutdown: the app closes its open connections (come back: 1012),
        # then its lifespan closes the broadcast
        await lifespan(app)
        assert await ada.wait_closed() == 1012
        assert ada.close_reason == "service restart"
    with pytest.raises(BroadcastError):
        await broadcast.publish("anything", "x")


async def test_an_unreachable_broker_closes_the_newcomer_with_1013(ws_client):
    broadcast = Broadcast("redis-stream://127.0.0.1:1/0", keep=HISTORY)  # nobody listens
    try:
        async with ws_client(make_app(broadcast), "/rooms/blue?name=ada") as ws:
            assert await ws.wait_closed(timeout=5) == 1013
            assert ws.close_reason == "chat unavailable, try again later"
    finally:
        await broadcast.aclose()


# -- the page, HTTP and lifespan ---------------------------------------------------------


async def http(app, method: str, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    await app(scope, receive, send)
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


async def lifespan(app) -> list[str]:
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive():
        return next(events)

    async def send(message):
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    return sent


async def test_the_page_is_served_at_the_root(app):
    status, headers, body = await http(app, "GET", "/")
    assert status == 200
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert int(headers[b"content-length"]) == len(body)
    assert body.startswith(b"<!doctype html>")
    for needle in (
        b'id="name"',
        b'id="room"',
        b'id="join"',
        b'id="leave"',
        b'id="text"',
        b'id="messages"',
        b'id="members"',
        b"new WebSocket(",
        b'"/rooms/"',
    ):
        assert needle in body
    assert b"http://" not in body and b"https://" not in body  # no external assets
    assert await http(app, "HEAD", "/") == (200, headers, b"")


@pytest.mark.parametrize("path", ["/index.html", "/rooms/blue", "/favicon.ico"])
async def test_other_paths_are_404(app, path):
    status, headers, body = await http(app, "GET", path)
    assert (status, body) == (404, b"404 Not Found\n")
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"


async def test_other_methods_are_405(app):
    status, _, body = await http(app, "POST", "/")
    assert (status, body) == (405, b"405 Method Not Allowed\n")


async def test_lifespan_completes_and_its_shutdown_closes_the_broadcast(app, broadcast):
    assert await lifespan(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(BroadcastError) as closed:
        await broadcast.publish("anything", "x")
    assert str(closed.value).endswith(" is closed")


# -- the pure parts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "url", "keep"),
    [
        ({}, "memory://", HISTORY),
        ({"SHALLOT_WS_CHAT_BROADCAST": ""}, "memory://", HISTORY),
        (
            {"SHALLOT_WS_CHAT_BROADCAST": "redis-stream://127.0.0.1:6379/0"},
            "redis-stream://127.0.0.1:6379/0",
            HISTORY,
        ),
        ({"SHALLOT_WS_CHAT_BROADCAST": "redis://127.0.0.1:6379/0"}, "redis://127.0.0.1:6379/0", 0),
    ],
)
async def test_the_broadcast_comes_from_one_environment_variable(environ, url, keep):
    broadcast = broadcast_from_env(environ)
    try:
        assert (broadcast.url, broadcast.keep) == (url, keep)
    finally:
        await broadcast.aclose()


def test_parse_chat_returns_the_text_and_refuses_white_space():
    assert parse_chat(Post(" hi ")) == " hi "
    with pytest.raises(ValueError, match="^text expected something besides white space"):
        parse_chat(Post(" \t\n"))


def test_the_chat_contract_declares_its_messages():
    from shallot_ws.contracts import contract_of

    assert contract_of(make_app(Broadcast("memory://")).routes[0].app) is CHAT
    assert CHAT.receives is Post and CHAT.mode == "text"


def test_members_apply_join_here_leave_and_expire():
    members = Members("me", "ada", expiry=3.0)
    assert members.names() == ["ada"]
    assert members.apply(presence_event("join", "c2", "bob"), now=0.0) is True
    assert members.apply(presence_event("here", "c3", "ada"), now=1.0) is False  # ada: known
    assert members.apply(presence_event("join", "me", "ada"), now=1.0) is False  # itself
    assert members.apply({"type": "join", "id": "c4"}, now=1.0) is False  # malformed
    assert members.apply("noise", now=1.0) is False
    assert members.names() == ["ada", "bob"]
    assert members.apply(presence_event("here", "c2", "bob"), now=2.0) is False  # refreshed
    assert members.expire(now=4.5) is False  # c3 (heard at 1.0) went, but ada is still here
    assert members.expire(now=5.5) is True  # c2, heard at 2.0
    assert members.names() == ["ada"]
    assert members.apply(presence_event("leave", "c9"), now=6.0) is False  # never known
