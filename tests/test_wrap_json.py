"""wrap_json: JSON values in and out, 1007 on a bad frame; decode_json and encode_json pure."""

from __future__ import annotations

import functools
import json
import logging

import pytest

from shallot_ws import (
    ConfigError,
    ConfigTypeError,
    InvalidHandler,
    InvalidMessage,
    InvalidMessageType,
    compose,
    websocket,
    ws_close,
    ws_send,
)
from shallot_ws.messages import SEND_TYPE
from shallot_ws.middlewares import decode_json, encode_json, wrap_json
from shallot_ws.testing import AppClosed, connect

# -- decode_json and encode_json, without an event loop -----------------------------------


@pytest.mark.parametrize(
    ("frame", "value"),
    [('{"a": [1, 2]}', {"a": [1, 2]}), ("[]", []), ('"x"', "x"), ("5", 5), ("null", None)],
)
def test_decode_json_reads_any_json_value(frame, value):
    assert decode_json(frame) == value
    assert decode_json(frame.encode(), mode="binary") == value


def test_decode_json_refuses_invalid_json_with_a_short_reason():
    with pytest.raises(InvalidMessage) as info:
        decode_json("[1, 2")
    assert str(info.value) == (
        "wrap_json expected valid JSON in a text frame, "
        "got JSONDecodeError: Expecting ',' delimiter: line 1 column 6 (char 5)"
    )
    assert info.value.reason == "invalid JSON"
    assert isinstance(info.value.__cause__, json.JSONDecodeError)


def test_decode_json_refuses_a_frame_of_the_other_kind():
    with pytest.raises(InvalidMessage) as info:
        decode_json(b"[]")
    assert str(info.value) == "wrap_json expected a text frame, got a binary frame"
    assert info.value.reason == "expected a text frame"
    with pytest.raises(InvalidMessage) as info:
        decode_json("[]", mode="binary")
    assert str(info.value) == "wrap_json expected a binary frame, got a text frame"
    assert info.value.reason == "expected a binary frame"


def test_decode_json_in_binary_mode_wants_strict_utf8():
    assert decode_json('{"é": "€"}'.encode(), mode="binary") == {"é": "€"}
    with pytest.raises(InvalidMessage) as info:
        decode_json(b'"\xff"', mode="binary")
    assert str(info.value).startswith(
        "wrap_json expected valid JSON in a binary frame, got UnicodeDecodeError: "
    )
    assert info.value.reason == "invalid JSON"
    with pytest.raises(InvalidMessage):  # the stdlib would guess UTF-16 from raw bytes
        decode_json('"x"'.encode("utf-16"), mode="binary")


def test_decode_json_hands_a_custom_loads_the_frame_as_it_came():
    seen: list[object] = []

    def loads(data):
        seen.append(data)
        return json.loads(data)

    assert decode_json(b"[1]", loads, "binary") == [1]
    assert decode_json("[2]", loads, "text") == [2]
    assert seen == [b"[1]", "[2]"]


def test_decode_json_turns_any_error_of_loads_into_invalid_json():
    def strict(data):
        raise KeyError("no such field")

    with pytest.raises(InvalidMessage) as info:
        decode_json("{}", strict)
    assert str(info.value) == (
        "wrap_json expected valid JSON in a text frame, got KeyError: 'no such field'"
    )
    assert info.value.reason == "invalid JSON"


def test_deep_nesting_is_invalid_json_not_a_crash():
    with pytest.raises(InvalidMessage) as info:
        decode_json("[" * 100_000)
    assert info.value.reason == "invalid JSON"


def test_encode_json_builds_trusted_sends():
    message = encode_json({"sum": 6})
    assert message == {"type": "websocket.send", "text": '{"sum": 6}'}
    assert message["type"] is SEND_TYPE  # built by ws_send: the driver trusts it at once
    assert encode_json([1, "é"]) == {"type": "websocket.send", "text": '[1, "\\u00e9"]'}
    assert encode_json(None) == {"type": "websocket.send", "text": "null"}
    assert encode_json({"a": 1}, mode="binary") == {"type": "websocket.send", "bytes": b'{"a": 1}'}


def test_encode_json_passes_ws_messages_through_untouched():
    for message in (ws_send("plain"), ws_send(b"raw"), ws_close(4000, "bye")):
        assert encode_json(message) is message
        assert encode_json(message, mode="binary") is message
    payload = {"type": "chat", "text": "hi"}  # a "type" of the application's own
    assert encode_json(payload) == {
        "type": "websocket.send",
        "text": '{"type": "chat", "text": "hi"}',
    }


def test_encode_json_takes_a_dumps_returning_str_or_bytes():
    def as_bytes(value):  # what orjson.dumps and msgspec.json.encode return
        return json.dumps(value, separators=(",", ":")).encode()

    assert encode_json({"a": 1}, as_bytes) == {"type": "websocket.send", "text": '{"a":1}'}
    assert encode_json({"a": 1}, as_bytes, "binary") == {
        "type": "websocket.send",
        "bytes": b'{"a":1}',
    }
    compact = functools.partial(json.dumps, separators=(",", ":"))
    assert encode_json([1, 2], compact, "binary") == {"type": "websocket.send", "bytes": b"[1,2]"}


def test_encode_json_names_what_it_could_not_encode():
    with pytest.raises(InvalidMessageType) as info:
        encode_json({1, 2})
    assert str(info.value) == (
        "wrap_json expected a value its dumps can encode, got set "
        "(TypeError: Object of type set is not JSON serializable)"
    )


def test_orjson_plugs_in_when_installed():
    import orjson  # in the test extra: a real third-party codec plugs in

    assert decode_json(b'{"a":[1]}', orjson.loads, "binary") == {"a": [1]}
    assert encode_json({"a": [1]}, orjson.dumps) == {"type": "websocket.send", "text": '{"a":[1]}'}
    with pytest.raises(InvalidMessage) as info:
        decode_json("{", orjson.loads)
    assert info.value.reason == "invalid JSON"


def test_configuration_is_checked_at_once():
    with pytest.raises(ConfigError) as info:
        wrap_json(mode="xml")  # type: ignore[call-overload]
    assert str(info.value) == "wrap_json expected mode 'text' or 'binary', got 'xml'"
    with pytest.raises(ConfigTypeError) as info:
        wrap_json(loads=5)  # type: ignore[call-overload]
    assert str(info.value) == "wrap_json expected a callable loads, got int"
    with pytest.raises(ConfigError) as info:
        decode_json("1", mode="TEXT")  # type: ignore[arg-type]
    assert str(info.value) == "decode_json expected mode 'text' or 'binary', got 'TEXT'"
    with pytest.raises(InvalidHandler, match="^handler 'not a handler' must be an async generator"):
        wrap_json("not a handler")  # type: ignore[call-overload]


# -- the middleware, through the in-memory client ------------------------------------------


async def adder(scope, receiver):
    async for numbers in receiver:
        yield {"sum": sum(numbers)}


async def test_wrap_json_alone_is_a_middleware():
    for app in (
        websocket(compose(wrap_json)(adder)),
        websocket(wrap_json(adder)),
        compose(wrap_json)(websocket(adder)),
        wrap_json(websocket(adder)),  # type: ignore[call-overload]
    ):
        async with connect(app) as ws:
            await ws.send("[1, 2, 3]")
            assert await ws.receive() == '{"sum": 6}'
            await ws.send("[]")
            assert await ws.receive() == '{"sum": 0}'


async def test_the_wrapped_handler_keeps_its_name():
    wrapped = wrap_json(adder)
    assert wrapped.__name__ == "adder" and wrapped.__wrapped__ is adder  # type: ignore[attr-defined]


async def test_binary_mode_reads_and_sends_binary_frames():
    app = websocket(wrap_json(mode="binary")(adder))
    async with connect(app) as ws:
        await ws.send(b"[4, 5]")
        assert await ws.receive() == b'{"sum": 9}'


async def test_a_custom_encoder_and_decoder():
    compact = functools.partial(json.dumps, separators=(",", ":"))
    decoded: list[object] = []

    def loads(data):
        value = json.loads(data)
        decoded.append(value)
        return value

    app = websocket(wrap_json(loads=loads, dumps=compact)(adder))
    async with connect(app) as ws:
        await ws.send("[1, 2]")
        assert await ws.receive() == '{"sum":3}'
    assert decoded == [[1, 2]]


async def test_ws_messages_pass_through_and_a_close_closes():
    @websocket
    @wrap_json
    async def mixed(scope, receiver):
        yield ws_send("plain text")
        yield ws_send(b"\x00raw")
        yield {"json": True}
        yield ws_close(4000, "bye")

    async with connect(mixed) as ws:
        assert await ws.receive() == "plain text"
        assert await ws.receive() == b"\x00raw"
        assert await ws.receive() == '{"json": true}'
        assert await ws.wait_closed() == 4000
    assert ws.close_reason == "bye"


@pytest.mark.parametrize(
    ("mode", "frame", "reason"),
    [
        ("text", "[1, 2", "invalid JSON"),
        ("text", "", "invalid JSON"),
        ("text", b"[1]", "expected a text frame"),
        ("binary", b"\xff\xfe", "invalid JSON"),
        ("binary", "[1]", "expected a binary frame"),
    ],
)
async def test_a_bad_frame_closes_with_1007_and_a_short_reason(caplog, mode, frame, reason):
    calls: list[str] = []

    async def on_close(scope):
        calls.append("on_close")

    async def handler(scope, receiver):
        try:
            async for numbers in receiver:
                yield {"sum": sum(numbers)}
        finally:
            calls.append("handler finally")

    app = websocket(on_close=on_close)(wrap_json(mode=mode)(handler))
    good = "[1, 2]" if mode == "text" else b"[1, 2]"
    async with connect(app) as ws:
        await ws.send(good)
        await ws.send(frame)
        answer = await ws.receive()
        assert answer in ('{"sum": 3}', b'{"sum": 3}')
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.reason) == (1007, reason)
    assert calls == ["handler finally", "on_close"]
    assert ws.app_exceptions == []  # the client's mistake is no error of the app
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_handler_may_catch_a_bad_frame_and_carry_on():
    @websocket
    @wrap_json
    async def lenient(scope, receiver):
        while True:
            try:
                value = await receiver.receive()
            except InvalidMessage as exc:
                yield {"error": exc.reason}
                continue
            yield {"echo": value}

    async with connect(lenient) as ws:
        await ws.send("{oops")
        assert await ws.receive() == '{"error": "invalid JSON"}'
        await ws.send('{"ok": 1}')
        assert await ws.receive() == '{"echo": {"ok": 1}}'


async def test_a_value_dumps_cannot_encode_is_an_error_of_the_handler(caplog):
    @websocket
    @wrap_json
    async def sloppy(scope, receiver):
        yield {"ids": {1, 2}}

    async with connect(sloppy, raise_app_exceptions=False) as ws:
        assert await ws.wait_closed() == 1011
    assert ws.close_reason == ""
    (error,) = ws.app_exceptions
    assert isinstance(error, InvalidMessageType)
    assert str(error) == (
        "wrap_json expected a value its dumps can encode, got dict "
        "(TypeError: Object of type set is not JSON serializable)"
    )
    (record,) = [r for r in caplog.records if r.name == "shallot_ws"]
    assert record.getMessage().startswith("handler ")
    assert "sloppy raised; closing with 1011" in record.getMessage()


async def test_a_coroutine_handler_is_wrapped_too():
    @websocket
    @wrap_json
    async def once(scope, receiver):
        question = await receiver.receive()
        return {"answer": question["q"] * 2}

    async with connect(once) as ws:
        await ws.send('{"q": 21}')
        assert await ws.receive() == '{"answer": 42}'
        assert await ws.wait_closed() == 1000


async def test_text_mode_sends_text_from_a_dumps_returning_bytes():
    def as_bytes(value):
        return json.dumps(value).encode()

    app = websocket(wrap_json(dumps=as_bytes)(adder))
    async with connect(app) as ws:
        await ws.send("[1]")
        assert await ws.receive_text() == '{"sum": 1}'
