"""wrap_errors: exceptions mapped to closes, most specific first; unmapped ones keep 1011."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shallot_ws import (
    ConfigError,
    ConfigTypeError,
    InvalidMessage,
    ShallotWSError,
    WSDisconnect,
    compose,
    websocket,
    ws_close,
    ws_send,
)
from shallot_ws.middlewares import close_for, error_closes, wrap_errors, wrap_json
from shallot_ws.testing import AppClosed, connect, virtual_time

# -- error_closes and close_for, without an event loop -------------------------------------


def test_error_closes_normalises_codes_and_reasons_in_mapping_order():
    table = error_closes({PermissionError: (4003, "forbidden"), ValueError: 1007})
    assert table == (
        (PermissionError, {"type": "websocket.close", "code": 4003, "reason": "forbidden"}),
        (ValueError, {"type": "websocket.close", "code": 1007, "reason": ""}),
    )


@pytest.mark.parametrize(
    ("mapping", "error", "text"),
    [
        (
            len,
            ConfigTypeError,
            "wrap_errors expected a mapping of exception classes to close codes, "
            "got builtin_function_or_method",
        ),
        (
            {"ValueError": 1007},
            ConfigTypeError,
            "wrap_errors expected exception classes as keys, got 'ValueError'",
        ),
        (
            {int: 1007},
            ConfigTypeError,
            "wrap_errors expected exception classes as keys, got <class 'int'>",
        ),
        (
            {asyncio.CancelledError: 1001},
            ConfigError,
            "wrap_errors expected Exception subclasses as keys, got CancelledError, which must propagate",
        ),
        (
            {WSDisconnect: 1000},
            ConfigError,
            "wrap_errors expected exceptions of the handler as keys, got WSDisconnect: "
            "the client leaving is not an error to map",
        ),
        (
            {ValueError: 1006},
            ConfigError,
            "wrap_errors for ValueError expected a close code in 1000-1003, 1007-1014 or 3000-4999, got 1006",
        ),
        (
            {ValueError: "1007"},
            ConfigTypeError,
            "wrap_errors for ValueError expected an int close code, got str",
        ),
        (
            {ValueError: (4000, "bad", "extra")},
            ConfigTypeError,
            "wrap_errors for ValueError expected a close code or (code, reason), got (4000, 'bad', 'extra')",
        ),
        (
            {KeyError: (4000, b"bad")},
            ConfigTypeError,
            "wrap_errors for KeyError expected a str reason, got bytes",
        ),
        (
            {KeyError: (4000, "é" * 62)},
            ConfigError,
            "wrap_errors for KeyError expected a reason of at most 123 UTF-8 bytes, got 124",
        ),
    ],
)
def test_the_mapping_is_checked_at_configuration_time(mapping, error, text):
    with pytest.raises(error) as info:
        wrap_errors(mapping)
    assert type(info.value) is error
    assert str(info.value) == text


def codes(table, exc):
    close = close_for(exc, table)
    return None if close is None else close["code"]


def test_the_most_specific_class_wins_whatever_the_order():
    for mapping in (
        {Exception: 4000, LookupError: 4001, KeyError: 4002},
        {KeyError: 4002, LookupError: 4001, Exception: 4000},
        {LookupError: 4001, Exception: 4000, KeyError: 4002},
    ):
        table = error_closes(mapping)
        assert codes(table, KeyError("k")) == 4002
        assert codes(table, IndexError(0)) == 4001
        assert codes(table, RuntimeError()) == 4000


def test_unrelated_matches_go_by_mapping_order():
    # InvalidMessage is both a ShallotWSError and a ValueError
    first = error_closes({ValueError: 4001, ShallotWSError: 4002})
    assert codes(first, InvalidMessage("x")) == 4001
    second = error_closes({ShallotWSError: 4002, ValueError: 4001})
    assert codes(second, InvalidMessage("x")) == 4002


def test_unmapped_and_disconnects_are_not_matched():
    table = error_closes({ValueError: 4000, ShallotWSError: 4001})
    assert close_for(KeyError("k"), table) is None
    assert close_for(WSDisconnect(1000), table) is None  # a ShallotWSError, yet never mapped
    assert close_for(ValueError(), error_closes({})) is None


def test_close_for_returns_a_fresh_message():
    table = error_closes({ValueError: (4000, "bad")})
    close = close_for(ValueError(), table)
    assert close == {"type": "websocket.close", "code": 4000, "reason": "bad"}
    assert close is not table[0][1]


# -- the middleware, through the in-memory client ------------------------------------------


def raising(exc: Exception, trail: list[str]):
    async def handler(scope, receiver):
        try:
            async for message in receiver:
                yield ws_send(f"got {message}")
                raise exc
        finally:
            trail.append("handler finally")

    return handler


MAPPING = {PermissionError: (4003, "forbidden"), ValueError: 1007}


@pytest.mark.parametrize(
    ("exc", "code", "reason"),
    [
        (PermissionError("user 42 may not"), 4003, "forbidden"),
        (UnicodeDecodeError("utf-8", b"", 0, 1, "secret"), 1007, ""),  # a ValueError
    ],
)
async def test_a_mapped_error_closes_with_its_code_and_is_not_logged_as_an_error(
    caplog, exc, code, reason
):
    trail: list[str] = []

    async def on_close(scope):
        trail.append("on_close")

    app = websocket(on_close=on_close)(wrap_errors(MAPPING)(raising(exc, trail)))
    caplog.set_level(logging.DEBUG, logger="shallot_ws")
    async with connect(app) as ws:
        await ws.send("x")
        assert await ws.receive() == "got x"
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.reason) == (code, reason)
    assert ws.app_exceptions == []
    assert trail == ["handler finally", "on_close"]
    assert not [r for r in caplog.records if r.levelno > logging.DEBUG]
    (record,) = [r for r in caplog.records if r.name == "shallot_ws"]
    assert record.getMessage() == (
        f"handler raising.<locals>.handler raised {type(exc).__name__}; "
        f"closing with {code} (wrap_errors)"
    )


async def test_an_unmapped_error_keeps_the_1011_rule(caplog):
    trail: list[str] = []
    app = websocket(wrap_errors(MAPPING)(raising(KeyError("password=hunter2"), trail)))
    async with connect(app) as ws:
        await ws.send("x")
        assert await ws.receive() == "got x"
        with pytest.raises(KeyError, match="hunter2"):
            await ws.receive()
    assert (ws.close_code, ws.close_reason) == (1011, "")
    records = [r for r in caplog.records if r.name == "shallot_ws"]
    assert len(records) == 1 and records[0].exc_info[0] is KeyError


async def test_the_client_leaving_is_not_mapped():
    calls: list[str] = []

    async def on_disconnect(scope):
        calls.append("on_disconnect")

    @websocket(on_disconnect=on_disconnect)
    @wrap_errors({Exception: (4000, "anything")})
    async def reader(scope, receiver):
        while True:
            yield ws_send(await receiver.receive())  # raises WSDisconnect once the client left

    async with connect(reader) as ws:
        await ws.send("a")
        assert await ws.receive() == "a"
        await ws.close(4001)
    assert calls == ["on_disconnect"]
    assert all(m["type"] != "websocket.close" for m in ws.sent)


async def test_an_error_while_closing_is_not_mapped(caplog):
    @websocket
    @wrap_errors({ValueError: 4000})
    async def closer(scope, receiver):
        try:
            yield ws_close(4001, "done")
        finally:
            raise ValueError("cleanup failed")

    async with connect(closer, raise_app_exceptions=False) as ws:
        assert await ws.wait_closed() == 4001
    assert [type(e) for e in ws.app_exceptions] == [ValueError]
    assert sum(m["type"] == "websocket.close" for m in ws.sent) == 1


async def test_order_matters_wrap_errors_outside_wrap_json():
    async def handler(scope, receiver):
        async for value in receiver:
            if value.get("amount", 0) < 0:
                raise ValueError("negative amount")
            yield {"ok": value["amount"]}

    mapping = {ValueError: (4000, "bad value")}
    outside = websocket(compose(wrap_errors(mapping), wrap_json)(handler))
    async with connect(outside) as ws:
        await ws.send('{"amount": 2}')
        assert await ws.receive() == '{"ok": 2}'
        await ws.send('{"amount": -1}')
        assert await ws.wait_closed() == 4000
    async with connect(outside) as ws:
        await ws.send("{not json")
        assert await ws.wait_closed() == 1007  # wrap_json answered first
    assert ws.close_reason == "invalid JSON"

    # inside wrap_json, wrap_errors sees the bad frame as the ValueError it also is
    inside = websocket(compose(wrap_json, wrap_errors(mapping))(handler))
    async with connect(inside) as ws:
        await ws.send("{not json")
        assert await ws.wait_closed() == 4000


async def test_a_blocked_handler_is_still_cancelled_when_the_client_leaves(no_leaked_tasks):
    trail: list[str] = []

    @websocket(drain_timeout=0.02)
    @wrap_errors({Exception: 4000})
    async def blocked(scope, receiver):
        try:
            yield ws_send("ready")
            await asyncio.Event().wait()
        finally:
            trail.append("finally")

    async with virtual_time() as clock, connect(blocked) as ws:
        assert await ws.receive() == "ready"
        await ws.close()
        assert clock.now() == 0.02  # cancelled after the drain time
    assert trail == ["finally"]
    no_leaked_tasks()
