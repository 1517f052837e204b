"""WebSocketMachine: the examples keep docs/design.md §2 under hypothesis, and broken apps
are caught."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import invariant, precondition, rule, run_state_machine_as_test

from examples.chatbot import chatbot, reply_to
from examples.echo import echo
from examples.ticker import ticker
from shallot_ws import websocket, ws_send
from shallot_ws.testing import WebSocketMachine
from shallot_ws.testing.strategies import text_frames

QUICK = settings(max_examples=15, stateful_step_count=12, deadline=None)
# A broken app fails on the first example that shows it; no shrinking, to keep the suite fast.
FAILING = settings(
    max_examples=50,
    stateful_step_count=8,
    deadline=None,
    report_multiple_bugs=False,
    phases=[Phase.generate],
)


# -- the examples keep the invariants ------------------------------------------------------


@QUICK
class EchoMachine(WebSocketMachine):
    app = echo

    @invariant()
    def every_frame_is_echoed_in_order(self):
        expected = [f"@ECHO: {frame}" for frame in self.sent_frames]
        assert self.received == expected[: len(self.received)]

    @precondition(lambda self: self.is_open)
    @rule()
    def say_exit(self):
        self.send_frame("exit")
        self.let_app_run()
        assert (self.ws.close_code, self.ws.close_reason) == (1001, "bye")


TestEcho = EchoMachine.TestCase


@QUICK
class ChatbotMachine(WebSocketMachine):
    app = chatbot
    client_frames = text_frames(large=False)

    @invariant()
    def answers_follow_reply_to(self):
        if not self.received:
            return
        assert self.received[0] == "Chatbot ready. Say hello."
        answers = self.received[1:]
        expected = [
            "Goodbye!" if line.strip().lower() == "bye" else reply_to(line)
            for line in self.sent_frames
        ]
        assert answers == expected[: len(answers)]


TestChatbot = ChatbotMachine.TestCase


@QUICK
class FloodedStreamMachine(WebSocketMachine):
    """A stream that never reads, with a buffer of 2: the client's sends block, as over TCP,
    and its leaving is still seen once the stall timeout drops what does not fit."""

    app = websocket(max_buffered=2, drain_timeout=0.01, stall_timeout=0.02)(ticker.handler)


TestFloodedStream = FloodedStreamMachine.TestCase


def test_a_flooded_stream_blocks_the_client_and_still_ends():
    machines = []

    class Flood(FloodedStreamMachine):
        def __init__(self):
            super().__init__()
            machines.append(self)

        @rule()
        def flood(self):
            for _ in range(14):
                self.send_frame("x")  # one frame at a time: the machine's helper

    run_state_machine_as_test(Flood, settings=settings(QUICK, max_examples=5))
    assert any(machine._pending_send is not None for machine in machines)  # blocked writes
    assert all(machine.ws.finished and machine.loop.is_closed() for machine in machines)


# -- broken apps are caught ----------------------------------------------------------------


def run_failing(machine: type[WebSocketMachine], error: type[BaseException], match: str) -> None:
    with pytest.raises(error, match=match):
        run_state_machine_as_test(machine, settings=FAILING)


async def hasty(scope, receive, send):
    await receive()
    await send({"type": "websocket.send", "text": "too early"})


async def closes_twice(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000, "reason": ""})
    await send({"type": "websocket.send", "text": "too late"})


async def never_ends(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await asyncio.Event().wait()  # deaf to the client's leaving


async def talks_after_the_disconnect(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass
    await send({"type": "websocket.send", "text": "anyone?"})


async def returns_silently(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})


def test_a_send_before_the_accept_is_caught():
    class Hasty(WebSocketMachine):
        app = hasty

    run_failing(
        Hasty,
        AssertionError,
        r"the app sent \{'type': 'websocket.send', 'text': 'too early'\} before the accept",
    )


def test_a_send_after_the_close_is_caught():
    class ClosesTwice(WebSocketMachine):
        app = closes_twice

    run_failing(
        ClosesTwice,
        AssertionError,
        r"the app sent \{'type': 'websocket.send', 'text': 'too late'\} after it closed with",
    )


def test_an_app_that_never_ends_is_caught():
    class NeverEnds(WebSocketMachine):
        app = never_ends
        timeout = 0.05

    run_failing(
        NeverEnds, AssertionError, r"the connection did not end within 0.05 s of the client leaving"
    )


def test_a_send_after_the_disconnect_was_received_is_caught():
    class TalksAfter(WebSocketMachine):
        app = talks_after_the_disconnect

    run_failing(
        TalksAfter,
        AssertionError,
        r"the app sent \{'type': 'websocket.send', 'text': 'anyone\?'\} after it received the client's disconnect",
    )


def test_an_app_ending_without_a_close_is_caught():
    class Silent(WebSocketMachine):
        app = returns_silently

    run_failing(
        Silent,
        AssertionError,
        "the connection ended with neither a close from the app nor the client's disconnect",
    )


def test_a_refused_handshake_is_reported():
    async def refuse(scope):
        from shallot_ws import ws_close

        return ws_close()

    class Refused(WebSocketMachine):
        app = websocket(on_connect=refuse)(echo.handler)

    run_failing(Refused, AssertionError, r"the app refused the handshake \(HTTP 403\)")


def test_a_leaked_task_is_caught():
    @websocket
    async def leaky(scope, receiver):
        # a sleep, not an Event: the loop's timer keeps the leaked task alive to be seen
        asyncio.get_running_loop().create_task(asyncio.sleep(3600))
        async for message in receiver:
            yield ws_send(message)

    class Leaky(WebSocketMachine):
        app = leaky

    run_failing(
        Leaky,
        AssertionError,
        r"tasks outlived the connection: \[<Task pending name='Task-\d+' coro=<sleep\(\)",
    )


@websocket
async def fragile(scope, receiver):
    async for message in receiver:
        yield ws_send(str(int(message) * 2))


def test_handler_errors_fail_unless_expected():
    class Fragile(WebSocketMachine):
        app = fragile

    run_failing(Fragile, ValueError, "invalid literal for int")

    class Expected(Fragile):
        expect_errors = True

    run_state_machine_as_test(Expected, settings=QUICK)


def test_a_buffer_above_its_bound_is_caught():
    @websocket(max_buffered=4, stall_timeout=None, drain_timeout=0.01)
    async def deaf(scope, receiver):
        await asyncio.Event().wait()
        yield ws_send("never")

    class Deaf(WebSocketMachine):
        app = deaf

        def __init__(self):
            super().__init__()
            self.max_buffered = 1  # the check, pointed at a bound the app does not have

    run_failing(
        Deaf, AssertionError, r"\d+ frames buffered for the handler, above its max_buffered of 1"
    )


def test_hooks_run_out_of_turn_are_caught():
    class RogueHooks(WebSocketMachine):
        """A broken driver, played by a rule: it runs on_disconnect while the client is there."""

        app = echo

        @precondition(lambda self: self.is_open)
        @rule()
        def run_on_disconnect_now(self):
            self.run(self.target.on_disconnect(self.ws.scope))

    run_failing(
        RogueHooks,
        AssertionError,
        r"on_disconnect ran though the client did not leave: \['on_connect', 'on_disconnect'\]",
    )


def test_the_loop_is_closed_even_when_an_invariant_fails():
    machines = []

    class Tracked(WebSocketMachine):
        app = closes_twice

        def __init__(self):
            super().__init__()
            machines.append(self)

    run_failing(Tracked, AssertionError, "after it closed with")
    assert machines and all(machine.loop.is_closed() for machine in machines)
    assert all(machine.ws.finished for machine in machines)


def test_a_user_invariant_that_does_not_hold_fails():
    class WrongEcho(WebSocketMachine):
        app = echo

        @invariant()
        def echoes_without_the_prefix(self):
            assert self.received == self.sent_frames[: len(self.received)]

    run_failing(WrongEcho, AssertionError, "@ECHO: ")


def test_the_machine_needs_an_app():
    class Appless(WebSocketMachine):
        pass

    with pytest.raises(TypeError, match="Appless expected an `app` class attribute"):
        Appless()


def test_shallot_ws_testing_imports_without_hypothesis():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import shallot_ws.testing\n"
        "assert 'shallot_ws.testing.machine' not in sys.modules\n"
        "try:\n    shallot_ws.testing.WebSocketMachine\n"
        "except ImportError:\n    print('needs hypothesis')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "needs hypothesis\n"
