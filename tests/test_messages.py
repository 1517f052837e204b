"""Message builders and the validation of what handlers yield (pure, no event loop)."""

from __future__ import annotations

import pytest
from hypothesis import given

from shallot_ws import InvalidMessage, InvalidMessageType, ws_accept, ws_close, ws_deny, ws_send
from shallot_ws.messages import check_outgoing, is_valid_close_code
from shallot_ws.testing import strategies


def test_ws_send_text_and_bytes():
    assert ws_send("hi") == {"type": "websocket.send", "text": "hi"}
    assert ws_send(b"\x00") == {"type": "websocket.send", "bytes": b"\x00"}
    assert ws_send(bytearray(b"ab")) == {"type": "websocket.send", "bytes": b"ab"}
    assert ws_send("") == {"type": "websocket.send", "text": ""}


@pytest.mark.parametrize(
    ("value", "name"), [(1, "int"), (None, "NoneType"), ({"a": 1}, "dict"), (1.5, "float")]
)
def test_ws_send_rejects_other_types(value, name):
    with pytest.raises(TypeError) as info:
        ws_send(value)
    assert str(info.value) == f"ws_send expected str or bytes, got {name}"
    assert isinstance(info.value, InvalidMessageType)


def test_ws_close_defaults_and_values():
    assert ws_close() == {"type": "websocket.close", "code": 1000, "reason": ""}
    assert ws_close(1001, "bye") == {"type": "websocket.close", "code": 1001, "reason": "bye"}
    assert ws_close(4999, "é" * 61)["reason"] == "é" * 61  # 122 bytes


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 0, -1])
def test_ws_close_rejects_reserved_and_out_of_range_codes(code):
    with pytest.raises(ValueError) as info:
        ws_close(code)
    assert str(info.value) == (
        f"ws_close expected a close code in 1000-1003, 1007-1014 or 3000-4999, got {code}"
    )


def test_ws_close_takes_int_enums_as_plain_ints():
    from enum import IntEnum

    class CloseCode(IntEnum):
        GOING_AWAY = 1001

    message = ws_close(CloseCode.GOING_AWAY, "bye")
    assert message == {"type": "websocket.close", "code": 1001, "reason": "bye"}
    assert type(message["code"]) is int


def test_ws_close_rejects_non_int_code_and_long_reason():
    with pytest.raises(TypeError, match="^ws_close expected an int close code, got str$"):
        ws_close("1000")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^ws_close expected an int close code, got bool$"):
        ws_close(True)
    with pytest.raises(
        ValueError, match="^ws_close expected a reason of at most 123 UTF-8 bytes, got 124$"
    ):
        ws_close(1000, "x" * 124)
    with pytest.raises(ValueError, match="got 124$"):
        ws_close(1000, "é" * 62)
    with pytest.raises(TypeError, match="^ws_close expected a str reason, got bytes$"):
        ws_close(1000, b"bye")  # type: ignore[arg-type]


@given(strategies.close_codes(), strategies.close_reasons())
def test_every_valid_code_and_reason_builds_a_close(code, reason):
    assert ws_close(code, reason) == {"type": "websocket.close", "code": code, "reason": reason}


@given(strategies.invalid_close_codes())
def test_every_invalid_code_is_refused(code):
    assert not is_valid_close_code(code)
    with pytest.raises(ValueError):
        ws_close(code)


def test_ws_accept():
    assert ws_accept() == {"type": "websocket.accept"}
    assert ws_accept("chat") == {"type": "websocket.accept", "subprotocol": "chat"}
    assert ws_accept(headers={"X-Server": "shallot"}) == {
        "type": "websocket.accept",
        "headers": [(b"x-server", b"shallot")],
    }
    assert ws_accept(headers=[(b"x-a", b"1"), (b"x-a", b"2")])["headers"] == [
        (b"x-a", b"1"),
        (b"x-a", b"2"),
    ]


def test_ws_accept_refuses_the_subprotocol_header_and_bad_values():
    with pytest.raises(
        ValueError,
        match="^ws_accept expected no sec-websocket-protocol header, pass subprotocol= instead$",
    ):
        ws_accept(headers={"Sec-WebSocket-Protocol": "chat"})
    with pytest.raises(TypeError, match="^ws_accept expected a str subprotocol, got int$"):
        ws_accept(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^ws_accept expected a non-empty subprotocol, got ''$"):
        ws_accept("")
    with pytest.raises(
        TypeError, match=r"^ws_accept expected each header as a \(name, value\) pair, got 'x'$"
    ):
        ws_accept(headers=["x"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="^ws_accept header value expected str or bytes, got int$"):
        ws_accept(headers={"x": 1})  # type: ignore[dict-item]


def test_ws_deny():
    start, body = ws_deny(401, "no token")
    assert start == {
        "type": "websocket.http.response.start",
        "status": 401,
        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
    }
    assert body == {"type": "websocket.http.response.body", "body": b"no token", "more_body": False}
    start, body = ws_deny()
    assert start["status"] == 403 and start["headers"] == [] and body["body"] == b""
    start, _ = ws_deny(429, b"{}", {"content-type": "application/json", "retry-after": "3"})
    assert start["headers"] == [(b"content-type", b"application/json"), (b"retry-after", b"3")]


@pytest.mark.parametrize("status", [200, 101, 399, 600])
def test_ws_deny_wants_an_error_status(status):
    with pytest.raises(ValueError, match=f"^ws_deny expected a 4xx or 5xx status, got {status}$"):
        ws_deny(status)


def test_ws_deny_bad_types():
    with pytest.raises(TypeError, match="^ws_deny expected an int status, got str$"):
        ws_deny("403")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^ws_deny expected a bytes or str body, got int$"):
        ws_deny(403, 5)  # type: ignore[arg-type]


def test_check_outgoing_accepts_sends_and_closes():
    for message in (ws_send("a"), ws_send(b"a"), ws_close(1001, "x"), {"type": "websocket.close"}):
        assert check_outgoing(message, "handler h") is message


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (42, "handler h yielded 42: expected a message dict from ws_send() or ws_close()"),
        ("hi", "handler h yielded 'hi': expected a message dict from ws_send() or ws_close()"),
        (
            {"type": "websocket.send", "text": 5},
            "handler h yielded {'type': 'websocket.send', 'text': 5}: "
            "expected 'text' as str, got int",
        ),
        (
            {"type": "websocket.send", "bytes": "b"},
            "handler h yielded {'type': 'websocket.send', 'bytes': 'b'}: "
            "expected 'bytes' as bytes, got str",
        ),
        (
            {"type": "websocket.send"},
            "handler h yielded {'type': 'websocket.send'}: "
            "expected 'text' as str or 'bytes' as bytes, got neither",
        ),
        (
            {"type": "websocket.send", "text": "a", "bytes": b"b"},
            "handler h yielded {'type': 'websocket.send', 'text': 'a', 'bytes': b'b'}: "
            "expected 'text' as str or 'bytes' as bytes, not both",
        ),
        (
            {"type": "websocket.accept"},
            "handler h yielded {'type': 'websocket.accept'}: "
            "expected a 'websocket.send' or 'websocket.close' message",
        ),
        (
            {"type": "websocket.close", "code": 1006},
            "handler h yielded {'type': 'websocket.close', 'code': 1006}: expected an int close "
            "code in 1000-1003, 1007-1014 or 3000-4999",
        ),
        (
            {"type": "websocket.close", "code": "4000", "reason": "bye"},
            "handler h yielded {'type': 'websocket.close', 'code': '4000', 'reason': 'bye'}: "
            "expected an int close code in 1000-1003, 1007-1014 or 3000-4999",
        ),
    ],
)
def test_check_outgoing_names_the_handler_and_shows_the_value(message, text):
    with pytest.raises(InvalidMessage) as info:
        check_outgoing(message, "handler h")
    assert str(info.value) == text
