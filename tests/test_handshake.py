"""What on_connect returned, turned into messages: pure, tested without an event loop."""

from __future__ import annotations

import pytest

from shallot_ws import InvalidMessage, SubprotocolError, ws_accept, ws_close, ws_deny
from shallot_ws.handshake import decide, refusal

WITH_DENIAL = {"subprotocols": ["a", "b"], "extensions": {"websocket.http.response": {}}}
WITHOUT = {"subprotocols": [], "extensions": {}}
PLAIN_REFUSAL = [{"type": "websocket.close", "code": 1000, "reason": ""}]


def test_none_and_accept_accept():
    assert decide(None, WITHOUT, "h") == [{"type": "websocket.accept"}]
    assert decide(ws_accept("b"), WITH_DENIAL, "h") == [ws_accept("b")]


def test_an_unoffered_subprotocol_is_refused_before_anything_is_sent():
    with pytest.raises(
        SubprotocolError,
        match=r"^on_connect hook h accepted subprotocol 'c', "
        r"which the client did not offer \(offered: \['a', 'b'\]\)$",
    ):
        decide(ws_accept("c"), WITH_DENIAL, "h")


def test_close_refuses_and_deny_needs_the_extension():
    assert decide(ws_close(), WITH_DENIAL, "h") == [ws_close()]
    assert decide(ws_deny(401, "no"), WITH_DENIAL, "h") == list(ws_deny(401, "no"))
    assert decide(ws_deny(401, "no"), WITHOUT, "h") == PLAIN_REFUSAL


@pytest.mark.parametrize("value", ["yes", 1, True, ("a", "b"), {"type": "websocket.send"}])
def test_anything_else_is_a_clear_error(value):
    with pytest.raises(InvalidMessage) as info:
        decide(value, WITHOUT, "h")
    assert str(info.value) == (
        f"on_connect hook h returned {value!r}: expected None, ws_accept(), ws_close() or ws_deny()"
    )


def test_refusal_uses_the_status_only_where_the_server_can_send_it():
    assert refusal(WITH_DENIAL, 500) == [
        {"type": "websocket.http.response.start", "status": 500, "headers": []},
        {"type": "websocket.http.response.body", "body": b"", "more_body": False},
    ]
    assert refusal(WITHOUT, 500) == PLAIN_REFUSAL
