"""wrap_limits: 1009 for a frame too large, 1008 for too many frames; the checks pure."""

from __future__ import annotations

import asyncio

import pytest

from shallot_ws import (
    ConfigError,
    ConfigTypeError,
    InvalidMessageType,
    WSDisconnect,
    compose,
    websocket,
    ws_send,
)
from shallot_ws.middlewares import LimitCheck, RateWindow, frame_size, wrap_json, wrap_limits
from shallot_ws.testing import AppClosed, connect, virtual_time

TOO_LARGE = {"type": "websocket.close", "code": 1009, "reason": "frame too large"}
TOO_FAST = {"type": "websocket.close", "code": 1008, "reason": "rate limit exceeded"}

# -- frame_size, RateWindow and LimitCheck, without an event loop --------------------------


@pytest.mark.parametrize(
    ("frame", "size"),
    [("", 0), ("abc", 3), ("é", 2), ("€", 3), ("😀", 4), ("a€😀", 8), (b"\x00\xff", 2)],
)
def test_frame_size_counts_utf8_bytes_of_text_and_bytes_of_binary(frame, size):
    assert frame_size(frame) == size


def test_frame_size_wants_a_frame():
    with pytest.raises(InvalidMessageType) as info:
        frame_size({"a": 1})  # type: ignore[arg-type]
    assert str(info.value) == (
        "wrap_limits expected str or bytes frames, got dict (put wrap_limits before wrap_json "
        "in compose)"
    )


def test_rate_window_allows_max_rate_within_any_window_of_per_seconds():
    window = RateWindow(3, per=1.0)
    assert [window.allow(t) for t in (0.0, 0.1, 0.2)] == [True, True, True]
    assert window.allow(0.99) is False  # a 4th within 1 s of the 1st
    assert window.allow(1.0) is True  # the 1st is a full second old
    assert window.allow(1.05) is False  # 0.1, 0.2, 1.0 and this within 0.95 s
    assert window.allow(1.1) is True
    assert window.allow(1.2) is True


def test_rate_window_of_one():
    window = RateWindow(1, per=0.5)
    assert [window.allow(t) for t in (0.0, 0.4, 0.5, 0.6, 1.0)] == [True, False, True, False, True]


def test_limit_check_closes_for_the_first_limit_broken_size_first():
    check = LimitCheck(max_frame_size=4, max_rate=2, per=1.0)
    assert check("abcd", 0.0) is None
    assert check(b"abcd", 0.1) is None
    assert check("abcde", 0.2) == TOO_LARGE  # size first, though the rate is broken too
    assert check("ab", 0.3) == TOO_FAST


@pytest.mark.parametrize(
    ("frame", "broken"),
    [("éé", False), ("ééé", True), ("€", False), ("€€", True), ("😀", False), ("a😀", True)],
)
def test_text_is_measured_in_utf8_bytes(frame, broken):
    check = LimitCheck(max_frame_size=4)
    assert (check(frame) == TOO_LARGE) is broken


def test_limit_check_wants_raw_frames_for_the_size():
    with pytest.raises(
        InvalidMessageType, match=r"^wrap_limits expected str or bytes frames, got list"
    ):
        LimitCheck(max_frame_size=10)([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({}, ConfigError, "wrap_limits expected max_frame_size or max_rate, got neither"),
        (
            {"max_frame_size": 0},
            ConfigError,
            "wrap_limits expected max_frame_size as a positive int, got 0",
        ),
        (
            {"max_frame_size": 1.5},
            ConfigTypeError,
            "wrap_limits expected max_frame_size as a positive int, got 1.5",
        ),
        (
            {"max_rate": True},
            ConfigTypeError,
            "wrap_limits expected max_rate as a positive int, got True",
        ),
        (
            {"max_rate": 5, "per": 0},
            ConfigError,
            "wrap_limits per expected a positive number of seconds, got 0",
        ),
        (
            {"max_rate": 5, "per": float("nan")},
            ConfigError,
            "wrap_limits per expected a positive number of seconds, got nan",
        ),
        (
            {"max_rate": 5, "per": float("inf")},
            ConfigError,
            "wrap_limits per expected a positive number of seconds, got inf",
        ),
        (
            {"max_rate": 5, "per": True},
            ConfigTypeError,
            "wrap_limits per expected a positive number of seconds, got True",
        ),
        (
            {"max_rate": 5, "per": "1"},
            ConfigTypeError,
            "wrap_limits per expected a positive number of seconds, got '1'",
        ),
    ],
)
def test_configuration_is_checked_at_once(kwargs, error, text):
    with pytest.raises(error) as info:
        wrap_limits(**kwargs)
    assert type(info.value) is error
    assert str(info.value) == text


# -- the middleware, through the in-memory client ------------------------------------------


def recording(trail: list[str]):
    async def handler(scope, receiver):
        try:
            async for message in receiver:
                trail.append(f"got {message!r}")
                yield ws_send(f"ok {len(message)}")
            trail.append(f"loop ended: {receiver.disconnected}")
            yield ws_send("after the loop")  # dropped: the close goes instead
        finally:
            trail.append("finally")

    return handler


async def test_a_frame_too_large_closes_1009_and_never_reaches_the_handler():
    trail: list[str] = []
    app = websocket(wrap_limits(max_frame_size=8)(recording(trail)))
    async with connect(app) as ws:
        await ws.send("12345678")
        assert await ws.receive() == "ok 8"
        await ws.send(b"\x00" * 8)
        assert await ws.receive() == "ok 8"
        await ws.send("éééé!")  # 9 bytes
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.reason) == (1009, "frame too large")
    assert trail == [
        "got '12345678'",
        "got b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'",
        "loop ended: client disconnected with code 1009 (frame too large)",
        "finally",
    ]
    assert ws.sent[-1] == TOO_LARGE


async def test_too_many_frames_close_1008():
    trail: list[str] = []
    app = websocket(wrap_limits(max_rate=3, per=10.0)(recording(trail)))
    async with connect(app) as ws:
        for index in range(3):
            await ws.send(str(index))
            assert await ws.receive() == "ok 1"
        await ws.send("3")
        with pytest.raises(AppClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.reason) == (1008, "rate limit exceeded")
    assert trail[:3] == ["got '0'", "got '1'", "got '2'"]
    assert trail[3:] == [
        "loop ended: client disconnected with code 1008 (rate limit exceeded)",
        "finally",
    ]


async def test_the_rate_is_counted_over_a_sliding_window():
    app = websocket(wrap_limits(max_rate=2, per=0.05)(recording([])))
    async with virtual_time() as clock, connect(app) as ws:
        for _ in range(3):  # two frames at once, then a pause of a full window
            for _ in range(2):
                await ws.send("x")
                assert await ws.receive() == "ok 1"
            await clock.advance(0.06)
        await ws.send("x")
        await ws.send("x")
        await ws.send("x")
        assert await ws.receive() == "ok 1"
        assert await ws.receive() == "ok 1"
        assert await ws.wait_closed() == 1008
        assert clock.now() == 0.06 + 0.06 + 0.06  # no real time


async def test_frames_the_handler_never_takes_are_not_counted():
    @websocket
    @wrap_limits(max_rate=1, per=10.0)
    async def one(scope, receiver):
        yield ws_send(await receiver.receive())
        await asyncio.sleep(1)  # the other frames arrive meanwhile, and stay unread
        assert receiver.buffered == 2

    async with virtual_time(), connect(one) as ws:
        for frame in ("a", "b", "c"):
            await ws.send(frame)
        assert await ws.receive() == "a"
        assert await ws.wait_closed() == 1000


async def test_receive_raises_wsdisconnect_with_the_limit():
    seen: list[object] = []

    @websocket
    @wrap_limits(max_frame_size=2)
    async def reader(scope, receiver):
        try:
            while True:
                yield ws_send(await receiver.receive())
        except WSDisconnect as exc:
            seen.append((exc.code, exc.reason, receiver.buffered))
            raise

    async with connect(reader) as ws:
        await ws.send("ab")
        assert await ws.receive() == "ab"
        await ws.send("abc")
        assert await ws.wait_closed() == 1009
    assert seen == [(1009, "frame too large", 0)]
    assert ws.app_exceptions == []


async def test_a_handler_that_goes_on_after_the_limit_is_closed_at_its_next_yield():
    after: list[str] = []

    @websocket
    @wrap_limits(max_frame_size=1)
    async def stubborn(scope, receiver):
        try:
            async for _ in receiver:
                pass
            async for _ in receiver:  # still over: no more frames
                after.append("never")
            yield ws_send("ignored the limit")
            after.append("resumed")
        finally:
            after.append("finally")

    async with connect(stubborn) as ws:
        await ws.send("too long")
        assert await ws.wait_closed() == 1009
    assert after == ["finally"]
    assert all(m.get("text") != "ignored the limit" for m in ws.sent)


async def test_wrap_limits_goes_before_wrap_json():
    async def handler(scope, receiver):
        async for value in receiver:
            yield {"got": value}

    good = websocket(compose(wrap_limits(max_frame_size=10), wrap_json)(handler))
    async with connect(good) as ws:
        await ws.send("[1, 2]")
        assert await ws.receive() == '{"got": [1, 2]}'
        await ws.send('"' + "x" * 20 + '"')  # too large: refused before it is parsed
        assert await ws.wait_closed() == 1009

    wrong = websocket(compose(wrap_json, wrap_limits(max_frame_size=10))(handler))
    async with connect(wrong, raise_app_exceptions=False) as ws:
        await ws.send("[1, 2]")
        assert await ws.wait_closed() == 1011
    (error,) = ws.app_exceptions
    assert str(error) == (
        "wrap_limits expected str or bytes frames, got list (put wrap_limits before wrap_json "
        "in compose)"
    )


async def test_the_client_leaving_is_still_a_disconnect():
    calls: list[str] = []

    async def on_disconnect(scope):
        calls.append("on_disconnect")

    app = websocket(on_disconnect=on_disconnect)(wrap_limits(max_rate=100)(recording([])))
    async with connect(app) as ws:
        await ws.send("a")
        assert await ws.receive() == "ok 1"
        await ws.close(4001)
    assert calls == ["on_disconnect"]
    assert all(m["type"] != "websocket.close" for m in ws.sent)


async def test_the_rate_window_runs_on_the_loop_clock_so_virtual_time_controls_it():
    import asyncio

    from shallot_ws import compose, websocket, wrap_limits, ws_send
    from shallot_ws.testing import AppClosed, connect, virtual_time

    async def echo(scope, receiver):
        async for message in receiver:
            yield ws_send(message)

    app = websocket(compose(wrap_limits(max_rate=2, per=1.0))(echo))
    async with virtual_time() as clock:
        async with connect(app, timeout=30) as ws:
            for index in range(5):  # one frame per 0.6 virtual seconds: never over the rate
                await ws.send(str(index))
                assert await ws.receive() == str(index)
                await asyncio.sleep(0.6)
            await asyncio.sleep(1.0)  # the window is empty again
            for index in range(3):  # three at once: over it
                await ws.send(str(index))
            assert [await ws.receive(), await ws.receive()] == ["0", "1"]
            try:
                await ws.receive()
            except AppClosed as closed:
                assert (closed.code, closed.reason) == (1008, "rate limit exceeded")
            else:
                raise AssertionError("the third frame in a second was not refused")
        assert clock.now() == 4.0  # 5 x 0.6 + 1.0, in no real time
