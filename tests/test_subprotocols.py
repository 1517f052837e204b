"""The subprotocol guard: the server's order of preference, and what happens without a match."""

from __future__ import annotations

import logging

import pytest

from shallot_ws import websocket, ws_accept, ws_send
from shallot_ws.errors import ConfigError, ConfigTypeError
from shallot_ws.guards import choose_subprotocol, guarded, select_subprotocol
from shallot_ws.testing import HandshakeRefused, connect


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["chat.v1", "chat.v2"], "chat.v2"),  # the server's order, not the client's
        (["chat.v2", "chat.v1"], "chat.v2"),
        (["chat.v1"], "chat.v1"),
        (["mqtt", "chat.v1"], "chat.v1"),
        (["CHAT.V2"], None),  # exact names, case included
        (["mqtt"], None),
        ([], None),
    ],
)
def test_choose_subprotocol_prefers_the_servers_order(offered, chosen):
    assert choose_subprotocol(offered, ["chat.v2", "chat.v1"]) == chosen


def test_the_guard_decides_without_an_event_loop():
    guard = select_subprotocol("chat.v2", "chat.v1")
    scope: dict = {"subprotocols": ["chat.v1"]}
    assert guard.check(scope) == ws_accept("chat.v1")
    assert scope["subprotocol"] == "chat.v1"
    scope = {"subprotocols": ["x", 3]}  # what is not a str is ignored
    assert guard.check(scope) is None and scope["subprotocol"] is None
    assert guard.check({}) is None


@pytest.mark.parametrize(
    ("args", "options", "error", "text"),
    [
        ((), {}, ConfigError, "select_subprotocol expected at least one subprotocol, got none"),
        (
            ("a b",),
            {},
            ConfigError,
            "select_subprotocol expected a subprotocol token (no spaces, commas or quotes), got 'a b'",
        ),
        (
            ("a,b",),
            {},
            ConfigError,
            "select_subprotocol expected a subprotocol token (no spaces, commas or quotes), got 'a,b'",
        ),
        (
            ("",),
            {},
            ConfigError,
            "select_subprotocol expected a subprotocol token (no spaces, commas or quotes), got ''",
        ),
        (
            (b"chat",),
            {},
            ConfigTypeError,
            "select_subprotocol expected subprotocols as str, got bytes",
        ),
        (
            ("chat",),
            {"required": 1},
            ConfigTypeError,
            "select_subprotocol expected a bool required, got int",
        ),
        (
            ("chat",),
            {"scope_key": ""},
            ConfigError,
            "select_subprotocol expected a non-empty str scope_key, got ''",
        ),
    ],
)
def test_arguments_are_checked_when_the_guard_is_built(args, options, error, text):
    with pytest.raises(error) as info:
        select_subprotocol(*args, **options)
    assert type(info.value) is error
    assert str(info.value) == text


def test_the_guard_reads_as_it_was_written():
    assert repr(select_subprotocol("a", "b")) == "select_subprotocol('a', 'b')"
    assert repr(select_subprotocol("a", required=True, scope_key="proto")) == (
        "select_subprotocol('a', required=True, scope_key='proto')"
    )


# -- through the in-memory client ----------------------------------------------------------


async def speak(scope, receiver):
    yield ws_send(f"speaking {scope['subprotocol']}")


def app_with(guard):
    return websocket(on_connect=guard)(speak)


async def test_accepts_with_the_preferred_offered_protocol():
    app = app_with(select_subprotocol("chat.v2", "chat.v1"))
    async with connect(app, subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert await ws.receive() == "speaking chat.v2"
    assert ws.accepted_subprotocol == "chat.v2"


async def test_without_a_match_it_accepts_without_a_subprotocol():
    app = app_with(select_subprotocol("chat.v2"))
    async with connect(app, subprotocols=["mqtt"]) as ws:
        assert await ws.receive() == "speaking None"
    assert ws.accepted_subprotocol is None
    assert ws.sent[0] == {"type": "websocket.accept"}


async def test_required_refuses_with_400_naming_the_servers_protocols(caplog):
    caplog.set_level(logging.INFO, "shallot_ws")
    app = app_with(select_subprotocol("chat.v2", "chat.v1", required=True))
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app, "/chat", subprotocols=["mqtt"]):
            pass
    assert info.value.status == 400
    assert info.value.body == b"unsupported subprotocol, expected one of: chat.v2, chat.v1"
    assert [r.getMessage() for r in caplog.records] == [
        "refused /chat: no supported subprotocol offered"
    ]
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app):  # nothing offered at all
            pass
    assert info.value.status == 400


async def test_required_without_the_denial_extension_is_a_plain_403():
    app = app_with(select_subprotocol("chat", required=True))
    with pytest.raises(HandshakeRefused) as info:
        async with connect(app, denial_response=False):
            pass
    assert info.value.status == 403


async def test_with_guarded_the_choice_joins_the_other_guards_accept():
    async def add_header(scope):
        return ws_accept(headers={"x-server": "shallot"})

    hook = guarded(add_header, select_subprotocol("chat"))
    async with connect(app_with(hook), subprotocols=["chat"]) as ws:
        assert await ws.receive() == "speaking chat"
    assert ws.accepted_subprotocol == "chat"
    assert ws.accept_headers == [(b"x-server", b"shallot")]
