"""The lifecycle table (shallot_ws/lifecycle.py): every (phase, event) pair, the properties
every life through it keeps, the drawing in docs/handlers.md, and the driver following it."""

from __future__ import annotations

import asyncio
import pathlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shallot_ws.driver
from shallot_ws import LifecycleError, websocket, ws_close, ws_send
from shallot_ws.lifecycle import DRAINING, TABLE, Action, Event, Outcome, Phase, Step, advance
from tests.test_driver_faults import SCOPE, FakeServer

DOCS = pathlib.Path(__file__).parent.parent / "docs" / "handlers.md"
CLOSES = {
    Action.SEND_NORMAL_CLOSE,
    Action.SEND_HANDLER_CLOSE,
    Action.SEND_ERROR_CLOSE,
    Action.SEND_SHUTDOWN_CLOSE,
}
SENDS = CLOSES | {Action.SEND_ACCEPT, Action.SEND_REFUSAL}


# -- every pair ---------------------------------------------------------------------------


@pytest.mark.parametrize("phase", list(Phase), ids=lambda p: p.name)
@pytest.mark.parametrize("event", list(Event), ids=lambda e: e.name)
def test_every_pair_steps_or_is_a_clear_error(phase, event):
    if (phase, event) in TABLE:
        step = advance(phase, event)
        assert isinstance(step, Step) and step == TABLE[phase, event]
        return
    expected = ", ".join(e.name for (p, e) in TABLE if p is phase) or "nothing"
    with pytest.raises(LifecycleError) as info:
        advance(phase, event)
    assert str(info.value) == (
        f"event {event.name} cannot happen in phase {phase.name}: expected {expected}"
    )


def test_the_table_has_104_pairs_39_of_them_possible():
    assert len(Phase) * len(Event) == 104
    assert len(TABLE) == 39


def test_an_impossible_pair_names_what_the_phase_expects():
    with pytest.raises(
        LifecycleError,
        match=r"^event SENT cannot happen in phase OPEN: expected "
        r"RETURNED, CLOSE_YIELDED, RAISED, LEFT, FAULT, SHUTDOWN$",
    ):
        advance(Phase.OPEN, Event.SENT)
    with pytest.raises(
        LifecycleError,
        match=r"^event LEFT cannot happen in phase ENDED: "
        r"expected nothing$",
    ):
        advance(Phase.ENDED, Event.LEFT)
    assert isinstance(LifecycleError("x"), RuntimeError)


def test_ended_is_the_only_end_and_every_phase_reaches_it():
    assert [p for p in Phase if not any(q is p for (q, _) in TABLE)] == [Phase.ENDED]
    reaches = {Phase.ENDED}
    changed = True
    while changed:
        changed = False
        for (phase, _), step in TABLE.items():
            if step.phase in reaches and phase not in reaches:
                reaches.add(phase)
                changed = True
    assert reaches == set(Phase)


def test_the_hooks_run_only_when_an_accepted_connection_is_cleaned_up():
    hooks = {pair for pair, step in TABLE.items() if step.action is Action.RUN_HOOKS}
    assert hooks == {(Phase.GONE, Event.CLEANED), (Phase.DONE, Event.CLEANED)}
    assert all(step.phase is Phase.ENDED for pair, step in TABLE.items() if pair in hooks)


# -- every life ---------------------------------------------------------------------------


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list(Event)), max_size=40))
def test_every_life_through_the_table_keeps_the_promises(events):
    """Any order of events the table allows (impossible ones skipped): one close at most,
    nothing sent once the client left, hooks once and last, the outcome tells the truth."""
    phase, outcome = Phase.CONNECTING, Outcome.FAILED
    actions: list[Action] = []
    left_before_close = False
    accepted = False
    for event in events:
        if (phase, event) not in TABLE:
            continue
        if (event is Event.LEFT and phase not in (Phase.CLOSING, Phase.DONE, Phase.ENDED)) or (
            event is Event.CLOSE_LOST
        ):
            left_before_close = True  # (a leave read while our close is on its way: the app's)
        before = phase
        step = advance(phase, event)
        phase, action = step.phase, step.action
        outcome = step.outcome or outcome
        actions.append(action)
        accepted |= action is Action.SEND_ACCEPT
        assert action is not Action.RUN_HOOKS or accepted
        if action in (Action.ARM_DRAIN, Action.CANCEL_HANDLER):
            assert phase in DRAINING
        if left_before_close and before is not Phase.CONNECTING:
            assert action not in SENDS, (before, event, action)
    assert sum(action in CLOSES for action in actions) <= 1
    assert actions.count(Action.RUN_HOOKS) <= 1
    if Action.RUN_HOOKS in actions:
        assert actions[-1] is Action.RUN_HOOKS and phase is Phase.ENDED
        assert (outcome is Outcome.DISCONNECTED) == left_before_close
    if Action.SEND_REFUSAL in actions:
        assert actions == [Action.SEND_REFUSAL] and phase is Phase.ENDED


# -- the drawing --------------------------------------------------------------------------


def test_the_drawn_table_is_the_code_table():
    text = DOCS.read_text()
    drawn = text.split("<!-- lifecycle table: begin -->")[1].split("<!-- lifecycle table: end")[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in drawn.strip().splitlines()[2:]
    ]
    table = {
        (Phase[p], Event[e]): Step(Phase[n], Action[a], Outcome[o] if o else None)
        for p, e, n, a, o in rows
    }
    assert len(rows) == len(table) and table == TABLE
    assert re.search(r"walks all 104 pairs", text)


# -- the driver follows it ----------------------------------------------------------------


@pytest.fixture
def steps(monkeypatch):
    """The (phase, event) pairs the driver steps, in order."""
    taken: list[tuple[str, str]] = []

    def recording(phase, event):
        taken.append((phase.name, event.name))
        return advance(phase, event)

    monkeypatch.setattr(shallot_ws.driver, "advance", recording)
    return taken


CONNECT = {"type": "websocket.connect"}
OPENING = [("CONNECTING", "ACCEPT"), ("ACCEPTING", "SENT")]


async def serve(app, server):
    await app(SCOPE, server.receive, server.send)
    return [message.get("code", message["type"]) for message in server.sent]


async def test_the_driver_steps_a_handler_that_returns(steps):
    @websocket
    async def hello(scope, receiver):
        yield ws_send("hi")

    assert await serve(hello, FakeServer([CONNECT])) == ["websocket.accept", "websocket.send", 1000]
    assert steps == [*OPENING, ("OPEN", "RETURNED"), ("CLOSING", "SENT"), ("DONE", "CLEANED")]


async def test_the_driver_steps_a_yielded_close_and_a_raise(steps):
    @websocket
    async def bye(scope, receiver):
        yield ws_close(4000)

    @websocket
    async def broken(scope, receiver):
        raise ValueError("no")
        yield

    assert await serve(bye, FakeServer([CONNECT])) == ["websocket.accept", 4000]
    assert await serve(broken, FakeServer([CONNECT])) == ["websocket.accept", 1011]
    end = [("CLOSING", "SENT"), ("DONE", "CLEANED")]
    assert steps == [*OPENING, ("OPEN", "CLOSE_YIELDED"), *end, *OPENING, ("OPEN", "RAISED"), *end]


async def test_the_driver_steps_a_client_that_leaves_and_a_drain(steps):
    release = asyncio.Event()

    @websocket(drain_timeout=0)
    async def deaf(scope, receiver):
        await release.wait()  # never set: the drain timer stops it
        yield ws_send("never")

    disconnect = {"type": "websocket.disconnect", "code": 1001}
    assert await serve(deaf, FakeServer([CONNECT, disconnect])) == ["websocket.accept"]
    assert steps == [
        *OPENING,
        ("OPEN", "LEFT"),
        ("GONE", "DRAIN_EXPIRED"),
        ("GONE", "RETURNED"),
        ("GONE", "CLEANED"),
    ]


async def test_the_driver_steps_a_server_fault(steps, caplog):
    release = asyncio.Event()

    @websocket
    async def waiting(scope, receiver):
        await release.wait()  # never set: the fault's cancellation stops it
        yield ws_send("never")

    bogus = {"type": "websocket.bogus"}
    assert await serve(waiting, FakeServer([CONNECT, bogus])) == ["websocket.accept", 1011]
    assert steps == [
        *OPENING,
        ("OPEN", "FAULT"),
        ("FAULTED", "DRAIN_EXPIRED"),
        ("FAULTED", "RAISED"),
        ("CLOSING", "SENT"),
        ("DONE", "CLEANED"),
    ]
    assert "websocket.bogus" in caplog.records[-1].exc_text


async def test_the_driver_steps_a_refused_close_and_a_refused_handshake(steps):
    @websocket
    async def hello(scope, receiver):
        yield ws_send("hi")

    class Refusing(FakeServer):
        async def send(self, message):
            await super().send(message)
            if message["type"] == "websocket.close":
                raise RuntimeError("no close today")

    async def nobody(scope):
        return ws_close()

    await serve(hello, Refusing([CONNECT]))
    assert steps[-2:] == [("CLOSING", "CLOSE_REFUSED"), ("DONE", "CLEANED")]
    steps.clear()
    assert await serve(hello.replace(on_connect=nobody), FakeServer([CONNECT])) == [1000]
    assert steps == [("CONNECTING", "REFUSE")]


async def test_the_driver_steps_a_shutdown(steps):
    started = asyncio.Event()

    @websocket
    async def waiting(scope, receiver):
        started.set()
        await asyncio.Event().wait()
        yield ws_send("never")

    server = FakeServer([CONNECT])
    task = asyncio.ensure_future(serve(waiting, server))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [m.get("code", m["type"]) for m in server.sent] == ["websocket.accept", 1012]
    assert steps == [
        *OPENING,
        ("OPEN", "SHUTDOWN"),
        ("CLOSING", "SENT"),
        ("DONE", "SHUTDOWN"),
        ("DONE", "CLEANED"),
    ]
