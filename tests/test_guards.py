"""Guards: on_connect's protocol, chained in order; the first refusal wins."""

from __future__ import annotations

import pytest

from shallot_ws import InvalidMessage, websocket, ws_accept, ws_close, ws_deny, ws_send
from shallot_ws.guards import guarded
from shallot_ws.testing import HandshakeRefused, connect


async def hello(scope, receiver):
    yield ws_send(f"hello {scope.get('user', 'nobody')}")


def recording(name, result, trail):
    async def guard(scope):
        trail.append(name)
        return result

    guard.__qualname__ = name
    return guard


async def test_all_pass_then_accept_with_what_they_contributed():
    trail: list[str] = []

    async def identify(scope):
        trail.append("identify")
        scope["user"] = "ann"

    hook = guarded(
        identify,
        recording("proto", ws_accept("chat"), trail),
        recording("headers", ws_accept(headers={"x-a": "1"}), trail),
    )
    app = websocket(on_connect=hook)(hello)
    async with connect(app, subprotocols=["chat"]) as ws:
        assert await ws.receive() == "hello ann"
    assert trail == ["identify", "proto", "headers"]
    assert ws.accepted_subprotocol == "chat" and ws.accept_headers == [(b"x-a", b"1")]


@pytest.mark.parametrize(("refusal", "status"), [(ws_close(), 403), (ws_deny(401, "who?"), 401)])
async def test_the_first_refusal_wins_and_later_guards_do_not_run(refusal, status):
    trail: list[str] = []
    hook = guarded(
        recording("one", None, trail),
        recording("two", refusal, trail),
        recording("three", None, trail),
    )
    with pytest.raises(HandshakeRefused) as info:
        async with connect(websocket(on_connect=hook)(hello)):
            pass
    assert info.value.status == status
    assert trail == ["one", "two"]


async def test_a_guard_that_raises_refuses_with_500_and_is_logged(caplog):
    async def broken(scope):
        raise LookupError("user store down")

    connection = connect(websocket(on_connect=guarded(broken))(hello), raise_app_exceptions=False)
    with pytest.raises(HandshakeRefused) as info:
        async with connection:
            pass
    assert info.value.status == 500
    assert [type(e) for e in connection.app_exceptions] == [LookupError]
    assert "guarded(" in caplog.records[0].getMessage()


async def test_two_guards_choosing_different_subprotocols_is_an_error():
    hook = guarded(recording("a", ws_accept("one"), []), recording("b", ws_accept("two"), []))
    with pytest.raises(
        InvalidMessage, match="^guard b chose subprotocol 'two', but an earlier guard chose 'one'$"
    ):
        async with connect(websocket(on_connect=hook)(hello), subprotocols=["one", "two"]):
            pass


def test_guards_are_checked_when_chained():
    def sync_guard(scope):
        return None

    with pytest.raises(TypeError, match="^guard hook .*sync_guard must be an async function"):
        guarded(sync_guard)
