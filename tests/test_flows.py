"""Client flows as data: the steps, run_flow and its transcripts, and the pure helpers
(checking a flow, expected transcripts, their text) tested without an event loop."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import examples.ticker
from examples.chatbot import chatbot, reply_to
from examples.echo import echo
from shallot_ws import InvalidMessage, websocket, ws_accept, ws_close, ws_deny, ws_send
from shallot_ws.testing import (
    DISCONNECT_1006,
    Disconnect,
    Drop,
    FlowError,
    Receive,
    Send,
    Sleep,
    TestingError,
    Transcript,
    connect,
    run_flow,
    virtual_time,
)
from shallot_ws.testing.flows import (
    check_flow,
    expect,
    expected_hooks,
    format_transcript,
    transcript_diff,
)
from shallot_ws.testing.strategies import SLEEPS, flows

ACCEPT = {"type": "websocket.accept"}


# -- the steps (pure) ------------------------------------------------------------------


def test_steps_are_frozen_data():
    assert Send("hi") == Send("hi") and Send("hi") != Send(b"hi")
    assert Receive() == Receive(1)
    assert Disconnect() == Disconnect(1000, "")
    assert Drop() == Drop()
    with pytest.raises(dataclasses.FrozenInstanceError):
        Send("hi").data = "ho"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "error", "text"),
    [
        (lambda: Send(42), TypeError, "Send expected str or bytes, got int"),
        (lambda: Send(bytearray(b"x")), TypeError, "Send expected str or bytes, got bytearray"),
        (lambda: Receive(0), ValueError, "Receive expected a positive int count, got 0"),
        (lambda: Receive(True), ValueError, "Receive expected a positive int count, got True"),
        (lambda: Sleep(-1), ValueError, "Sleep expected a non-negative number of seconds, got -1"),
        (
            lambda: Sleep(float("nan")),
            ValueError,
            "Sleep expected a non-negative number of seconds, got nan",
        ),
        (
            lambda: Disconnect(1006),
            InvalidMessage,
            "Disconnect expected a close code in 1000-1003, 1007-1014 or 3000-4999, got 1006",
        ),
        (
            lambda: Disconnect(1000, "x" * 124),
            InvalidMessage,
            "Disconnect expected a reason of at most 123 UTF-8 bytes, got 124",
        ),
    ],
)
def test_steps_check_their_arguments(build, error, text):
    with pytest.raises(error) as caught:
        build()
    assert str(caught.value) == text


def test_check_flow_returns_the_steps_as_a_tuple():
    steps = [Send("a"), Sleep(0), Receive(), Drop()]
    assert check_flow(steps) == tuple(steps)
    assert check_flow(iter(steps)) == tuple(steps)
    assert check_flow([]) == ()


def test_check_flow_refuses_what_is_not_a_step():
    with pytest.raises(TypeError) as caught:
        check_flow([Send("a"), "b"])
    assert str(caught.value) == (
        "run_flow expected steps (Send, Receive, Sleep, Disconnect, Drop), got str at steps[1]"
    )
    with pytest.raises(TypeError, match="expected a list of steps, got str"):
        check_flow("hello")


def test_nothing_follows_the_client_leaving():
    with pytest.raises(ValueError) as caught:
        check_flow([Send("a"), Disconnect(1001), Send("b")])
    assert str(caught.value) == (
        "run_flow expected nothing after the client left at steps[1], "
        "Disconnect(code=1001, reason=''), got steps[2], Send(data='b')"
    )
    with pytest.raises(ValueError, match=r"left at steps\[0\], Drop\(\), got steps\[1\]"):
        check_flow([Drop(), Sleep(1)])


async def test_run_flow_checks_the_flow_before_connecting():
    started = []

    async def app(scope, receive, send):
        started.append(scope)

    with pytest.raises(ValueError, match="nothing after the client left"):
        await run_flow(app, [Drop(), Drop()])
    assert started == []


# -- expected transcripts (pure) -------------------------------------------------------


def test_expected_hooks_follow_design_2():
    assert expected_hooks() == ["on_connect", "on_close"]
    assert expected_hooks(client_left=True) == ["on_connect", "on_disconnect", "on_close"]
    assert expected_hooks(client_left=True, app_closed=True) == ["on_connect", "on_close"]
    assert expected_hooks(accepted=False) == ["on_connect"]


def test_expect_fills_in_the_hooks():
    assert expect(["a", (1000, "")]) == Transcript(
        messages=["a", (1000, "")], hooks=["on_connect", "on_close"]
    )
    assert expect(["a"], client_left=(1001, "")).hooks == [
        "on_connect",
        "on_disconnect",
        "on_close",
    ]
    assert expect(refused=(403, b"no")).hooks == ["on_connect"]
    assert expect(["a"], hooks_known=False).hooks is None


def test_a_transcript_says_what_happened():
    closed = expect(["a", b"b", (1001, "bye")])
    assert closed.accepted and closed.close == (1001, "bye") and closed.frames == ["a", b"b"]
    assert expect(["a"], client_left=(1000, "")).close is None
    assert not expect(refused=(403, b"")).accepted


def test_exceptions_take_no_part_in_comparisons():
    one = expect([(1011, "")], errors=["ValueError: bad"])
    other = dataclasses.replace(one, exceptions=[ValueError("bad")])
    assert one == other
    assert one != dataclasses.replace(one, errors=["ValueError: worse"])


# -- the text of a transcript (pure) ---------------------------------------------------


def test_a_transcript_prints_one_message_per_line():
    transcript = expect(["@ECHO: hi", b"\x00\x01", (1001, "bye")])
    assert repr(transcript) == str(transcript) == format_transcript(transcript)
    assert str(transcript) == "\n".join(
        [
            "Transcript(  # accepted, the app closed with 1001 'bye'",
            "    messages=[",
            "        '@ECHO: hi',",
            "        b'\\x00\\x01',",
            "        (1001, 'bye'),",
            "    ],",
            "    client_left=None,",
            "    hooks=['on_connect', 'on_close'],",
            ")",
        ]
    )


def test_long_frames_are_cut_and_their_size_said():
    transcript = expect(["x" * 70_000, b"\xff" * 100], client_left=(1006, ""))
    lines = str(transcript).splitlines()
    assert lines[0] == "Transcript(  # accepted, the connection dropped (1006)"
    assert lines[2] == "        " + repr("x" * 48) + "...,  # cut: 70,000 characters"
    assert lines[3] == "        " + repr(b"\xff" * 48) + "...,  # cut: 100 bytes"
    assert max(len(line) for line in lines) < 250


def test_every_field_not_at_its_default_is_printed():
    transcript = Transcript(
        client_left=(4000, "later"),
        hooks=None,
        subprotocol="chat",
        errors=["RuntimeError: boom"],
        violations=["expected this, got that"],
    )
    assert str(transcript) == "\n".join(
        [
            "Transcript(  # accepted with subprotocol 'chat', the client left with 4000 'later', "
            "1 error(s), 1 violation(s)",
            "    messages=[],",
            "    client_left=(4000, 'later'),",
            "    hooks=None,  # not known: the app is not a WebSocketApp",
            "    subprotocol='chat',",
            "    errors=[",
            "        'RuntimeError: boom',",
            "    ],",
            "    violations=[",
            "        'expected this, got that',",
            "    ],",
            ")",
        ]
    )
    refused = expect(refused=(403, b"members only"))
    assert str(refused).splitlines()[0] == "Transcript(  # refused with HTTP 403"
    assert "    refused=(403, b'members only')," in str(refused).splitlines()


def test_transcript_diff_names_the_fields_and_marks_the_lines():
    left = expect(["@ECHO: hi", (1001, "bye")])
    right = expect(["@ECHO: ho", (1001, "bye")])
    assert transcript_diff(left, right) == [
        "the transcripts differ in messages:",
        "  Transcript(  # accepted, the app closed with 1001 'bye'",
        "      messages=[",
        "-         '@ECHO: hi',",
        "+         '@ECHO: ho',",
        "          (1001, 'bye'),",
        "      ],",
        "      client_left=None,",
        "      hooks=['on_connect', 'on_close'],",
        "  )",
    ]
    assert transcript_diff(left, left) == ["the transcripts are equal"]


# -- each step, run ----------------------------------------------------------------------


async def test_send_and_receive():
    transcript = await run_flow(echo, [Send("hi"), Receive(), Send(b"\x00"), Receive()])
    assert transcript == expect(["@ECHO: hi", "@ECHO: b'\\x00'"], client_left=(1000, ""))


async def test_receive_counts_the_close_as_a_message():
    transcript = await run_flow(echo, [Send("one"), Send("exit"), Receive(2)])
    assert transcript == expect(["@ECHO: one", (1001, "bye")])


async def test_receive_fails_loudly_when_the_app_closes_first(no_leaked_tasks):
    with pytest.raises(FlowError) as caught:
        await run_flow(echo, [Send("exit"), Receive(3)])
    error = caught.value
    assert error.text == (
        "run_flow failed at steps[1], Receive(count=3), waited for 3 message(s) from the app "
        "and got 1: the app closed the connection with 1001 'bye'"
    )
    assert error.transcript == expect([(1001, "bye")])
    assert str(error) == f"{error.text}\n{error.transcript}"
    assert isinstance(error, TestingError) and isinstance(error, AssertionError)
    no_leaked_tasks()


async def test_receive_fails_loudly_when_nothing_comes(no_leaked_tasks):
    async with virtual_time() as clock:
        with pytest.raises(FlowError) as caught:
            await run_flow(echo, [Send("hi"), Receive(2)], timeout=0.05)
        assert clock.now() == 0.05
    assert caught.value.text == (
        "run_flow failed at steps[1], Receive(count=2), waited for 2 message(s) from the app "
        "and got 1: timed out after 0.05 s"
    )
    # The flow ended the connection first: the client left, the echo finished.
    assert caught.value.transcript == expect(["@ECHO: hi"], client_left=(1000, ""))
    no_leaked_tasks()


async def test_receive_fails_loudly_when_the_app_ends_without_a_close():
    async def curt(scope, receive, send):
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.send", "text": "bye"})

    with pytest.raises(FlowError) as caught:
        await run_flow(curt, [Receive(2)])
    assert caught.value.text.endswith("and got 1: the app ended without a close")


async def test_receive_after_the_close_was_taken_fails():
    with pytest.raises(FlowError, match=r"Receive\(count=1\), waited .* and got 0: the app closed"):
        await run_flow(echo, [Send("exit"), Receive(), Receive()])


async def test_sleep_waits_on_the_loop_and_lets_the_app_run():
    @websocket
    async def later(scope, receiver):
        await asyncio.sleep(0.01)
        yield ws_send("later")

    async with virtual_time() as clock:
        transcript = await run_flow(later, [Sleep(0.2), Disconnect()])
        assert clock.now() == 0.2
    assert transcript == expect(["later", (1000, "")])  # it finished before the client left


async def test_disconnect_leaves_with_its_code_and_reason():
    seen = []

    async def recorder(scope, receive, send):
        await receive()
        await send(ACCEPT)
        seen.append(await receive())

    transcript = await run_flow(recorder, [Disconnect(4001, "later")])
    assert seen == [{"type": "websocket.disconnect", "code": 4001, "reason": "later"}]
    assert transcript == expect(client_left=(4001, "later"), hooks_known=False)


async def test_drop_is_1006_without_a_reason():
    seen = []

    async def recorder(scope, receive, send):
        await receive()
        await send(ACCEPT)
        seen.append(await receive())

    transcript = await run_flow(recorder, [Drop()])
    assert seen == [{"type": "websocket.disconnect", "code": 1006}]
    assert transcript.client_left == (1006, "")


async def test_a_drop_waits_for_nothing_and_frames_already_queued_come_first():
    gate, seen = asyncio.Event(), []

    async def slow_reader(scope, receive, send):
        await receive()
        await send(ACCEPT)
        await gate.wait()
        for _ in range(3):
            seen.append(await receive())

    async with connect(slow_reader, queue_size=2) as ws:
        await ws.send("a")
        await ws.send("b")  # the server's queue is full now
        ws.drop()  # returns at once: no room needed
        assert ws.state == "gone"
        gate.set()
    assert [event.get("text", event.get("code")) for event in seen] == ["a", "b", 1006]


async def test_a_drop_after_the_app_closed_changes_nothing():
    transcript = await run_flow(echo, [Send("exit"), Receive(), Drop()])
    assert transcript == expect([(1001, "bye")])  # the app closed first: the client did not leave


async def test_the_client_leaves_with_1000_after_the_last_step():
    transcript = await run_flow(echo, [Send("hi"), Receive()])
    assert transcript.client_left == (1000, "")
    assert transcript.hooks == ["on_connect", "on_disconnect", "on_close"]


async def test_an_empty_flow_connects_and_leaves():
    assert await run_flow(echo, []) == expect(client_left=(1000, ""))


async def test_sends_after_the_app_closed_are_not_delivered():
    stored = []

    @websocket
    async def once(scope, receiver):
        async for message in receiver:
            stored.append(message)
            yield ws_close(4000, "one is enough")

    transcript = await run_flow(once, [Send("a"), Receive(), Send("b"), Sleep(0), Send("c")])
    assert stored == ["a"]
    assert transcript == expect([(4000, "one is enough")])


async def test_a_disconnect_after_the_app_closed_is_not_a_leave():
    transcript = await run_flow(echo, [Send("exit"), Receive(), Disconnect(4000)])
    assert transcript.client_left is None


async def test_path_headers_and_subprotocols_reach_the_app():
    seen = {}

    async def choose(scope):
        seen.update(scope)
        return ws_accept(subprotocol="chat")

    @websocket(on_connect=choose)
    async def chat(scope, receiver):
        yield ws_send("welcome")

    transcript = await run_flow(
        chat, [Receive(2)], "/rooms/1?x=y", headers={"x-user": "ann"}, subprotocols=["chat"]
    )
    assert transcript == expect(["welcome", (1000, "")], subprotocol="chat")
    assert (seen["path"], seen["query_string"]) == ("/rooms/1", b"x=y")
    assert (b"x-user", b"ann") in seen["headers"]


async def test_quirks_reach_the_server():
    seen = []

    async def recorder(scope, receive, send):
        await receive()
        await send(ACCEPT)
        seen.append(await receive())

    await run_flow(recorder, [Disconnect(4000)], quirks=[DISCONNECT_1006])
    assert seen == [{"type": "websocket.disconnect", "code": 1006}]


# -- the examples ----------------------------------------------------------------------


async def test_the_echo():
    transcript = await run_flow(
        echo, [Send("hello"), Receive(), Send(b"\x01"), Receive(), Send("exit"), Receive()]
    )
    assert transcript.messages == ["@ECHO: hello", "@ECHO: b'\\x01'", (1001, "bye")]
    assert transcript == expect(transcript.messages)


async def test_the_echo_answers_until_the_client_drops():
    transcript = await run_flow(echo, [Send("a"), Receive(), Send("b"), Receive(), Drop()])
    assert transcript == expect(["@ECHO: a", "@ECHO: b"], client_left=(1006, ""))


async def test_the_chatbot_conversation():
    lines = ["hello", "how are you?", "what is this"]
    steps = [Receive()]
    for line in lines:
        steps += [Send(line), Receive()]
    transcript = await run_flow(chatbot, [*steps, Send("bye"), Receive(2)])
    greeting = "Chatbot ready. Say hello."
    assert transcript == expect([greeting, *map(reply_to, lines), "Goodbye!", (1000, "")])


async def test_the_chatbot_refuses_binary():
    transcript = await run_flow(chatbot, [Receive(), Send(b"hello"), Receive()])
    assert transcript == expect(["Chatbot ready. Say hello.", (1003, "text only")])


async def test_the_ticker_streams_until_the_client_leaves():
    async with virtual_time() as clock:
        transcript = await run_flow(examples.ticker.ticker, [Receive(3), Disconnect(1001)])
        assert clock.now() == 2 * examples.ticker.INTERVAL + 0.5  # then the drain time
    assert transcript == expect(["tick 0", "tick 1", "tick 2"], client_left=(1001, ""))


@websocket(drain_timeout=0.01)
async def stream(scope, receiver):
    """A local stream: a tick every 10 ms, never reading."""
    count = 0
    while True:
        yield ws_send(f"{count}")
        count += 1
        await asyncio.sleep(0.01)


async def test_a_stream_stops_promptly_when_the_connection_drops(no_leaked_tasks):
    async with virtual_time() as clock:
        transcript = await run_flow(stream, [Receive(2), Drop()])
        assert clock.now() == 0.02  # the drop at 0.01, then at most the drain time
    assert transcript == expect(["0", "1"], client_left=(1006, ""))
    no_leaked_tasks()


# -- refusals, hooks, errors, violations ---------------------------------------------


async def members_only(scope):
    if scope["query_string"] != b"member=yes":
        return ws_deny(403, "members only")
    return None


@websocket(on_connect=members_only)
async def club(scope, receiver):
    yield ws_send("welcome")


async def test_a_denial_is_a_refused_transcript():
    transcript = await run_flow(club, [Send("let me in"), Receive()], "/club")
    assert transcript == expect(refused=(403, b"members only"))
    assert transcript.hooks == ["on_connect"] and not transcript.accepted


async def test_members_get_in():
    transcript = await run_flow(club, [Receive(2)], "/club?member=yes")
    assert transcript == expect(["welcome", (1000, "")])


async def test_a_close_before_the_accept_is_a_plain_403():
    async def refuse(scope):
        return ws_close(1008)

    @websocket(on_connect=refuse)
    async def closed(scope, receiver):
        yield ws_send("never")

    assert await run_flow(closed, []) == expect(refused=(403, b""))


async def test_an_app_that_ends_without_answering_is_refused_with_500():
    async def broken(scope, receive, send):
        await receive()
        raise RuntimeError("no answer")

    transcript = await run_flow(broken, [Send("hi")])
    assert transcript == expect(
        refused=(500, b""), errors=["RuntimeError: no answer"], hooks_known=False
    )
    assert isinstance(transcript.exceptions[0], RuntimeError)


async def test_a_refusal_with_a_violation_keeps_both():
    async def hasty(scope, receive, send):
        await receive()
        await send({"type": "websocket.send", "text": "too early"})
        await send({"type": "websocket.close", "code": 1000})

    transcript = await run_flow(hasty, [])
    assert transcript.refused == (403, b"")
    assert transcript.violations == [
        "expected an accept, a close or a denial response first, got "
        "{'type': 'websocket.send', 'text': 'too early'}"
    ]


async def test_the_hooks_run_in_order_around_the_apps_own():
    mine = []

    async def on_close(scope):
        mine.append("closed")

    @websocket(on_close=on_close)
    async def hello(scope, receiver):
        yield ws_send("hi")

    transcript = await run_flow(hello, [Receive(2)])
    assert transcript.hooks == ["on_connect", "on_close"] and mine == ["closed"]


async def test_the_hooks_of_a_raw_asgi_app_are_not_known():
    async def raw(scope, receive, send):
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.close", "code": 1000})

    transcript = await run_flow(raw, [Receive()])
    assert transcript.hooks is None
    assert "hooks=None,  # not known: the app is not a WebSocketApp" in str(transcript)


async def test_the_apps_errors_are_in_the_transcript_not_raised():
    @websocket
    async def doubler(scope, receiver):
        async for message in receiver:
            yield ws_send(str(int(message) * 2))

    transcript = await run_flow(doubler, [Send("21"), Receive(), Send("twenty"), Receive()])
    assert transcript == expect(
        ["42", (1011, "")],
        errors=["ValueError: invalid literal for int() with base 10: 'twenty'"],
    )
    [error] = transcript.exceptions
    assert isinstance(error, ValueError)


async def test_violations_are_listed_and_not_raised():
    async def twice(scope, receive, send):
        await receive()
        await send(ACCEPT)
        await send(ACCEPT)
        await send({"type": "websocket.send", "text": "ok"})

    transcript = await run_flow(twice, [Receive()])
    assert transcript.messages == ["ok"]  # only frames and closes are messages
    assert transcript.violations == [
        "expected websocket.send or websocket.close after the accept, got 'websocket.accept'"
    ]


async def test_an_app_that_never_answers_the_handshake_fails_the_flow(no_leaked_tasks):
    async def stuck(scope, receive, send):
        await asyncio.Event().wait()

    async with virtual_time() as clock:
        with pytest.raises(FlowError) as caught:
            await run_flow(stuck, [Send("hi")], timeout=0.05)
        assert clock.now() == 0.05
    assert caught.value.text == (
        "run_flow failed in the handshake: timed out after 0.05 s waiting for the app to accept "
        "or refuse the handshake"
    )
    no_leaked_tasks()


async def test_an_app_that_never_ends_fails_the_flow(no_leaked_tasks):
    async def deaf(scope, receive, send):
        await receive()
        await send(ACCEPT)
        await asyncio.Event().wait()

    async with virtual_time() as clock:
        with pytest.raises(FlowError) as caught:
            await run_flow(deaf, [Drop()], timeout=0.05)
        assert clock.now() == 0.05
    assert caught.value.text == (
        "run_flow failed at the end of the flow: timed out after 0.05 s waiting for the app to "
        "finish after the connection ended"
    )
    assert caught.value.transcript.client_left == (1006, "")
    no_leaked_tasks()


# -- the flows() strategy --------------------------------------------------------------


@given(flows(max_steps=5))
def test_drawn_flows_are_valid_and_bounded(flow):
    assert check_flow(flow) == tuple(flow)
    assert len(flow) <= 5
    assert all(isinstance(step, (Send, Sleep)) for step in flow[:-1])
    assert all(step.seconds in SLEEPS for step in flow if isinstance(step, Sleep))


@pytest.mark.parametrize(
    "wanted",
    [
        lambda flow: any(isinstance(step, Send) and isinstance(step.data, bytes) for step in flow),
        lambda flow: any(isinstance(step, Sleep) for step in flow),
        lambda flow: flow[-1:] == [Drop()],
        lambda flow: flow and isinstance(flow[-1], Disconnect) and flow[-1].code >= 3000,
    ],
    ids=["binary", "sleep", "drop", "disconnect-4xxx"],
)
def test_flows_reach_every_kind_of_step(wanted):
    find(flows(), wanted, settings=settings(database=None, max_examples=2000))


def test_flows_reach_their_max_steps():
    find(flows(max_steps=3), lambda flow: len(flow) == 3, settings=settings(database=None))


def test_flows_shrink_to_nothing():
    assert find(flows(), lambda flow: True) == []


@given(flows(frames=st.just("x"), max_steps=3, sleeps=st.nothing(), leave=False))
def test_flows_take_frames_sleeps_and_leaving_as_told(flow):
    assert all(step == Send("x") for step in flow) and len(flow) <= 3


def test_max_steps_is_checked():
    with pytest.raises(ValueError, match="flows expected a non-negative int max_steps, got -1"):
        flows(max_steps=-1)
    assert find(flows(max_steps=0), lambda flow: True) == []
