"""Server quirks of the in-memory server: what each one changes, that violations are still
recorded under it, and that the driver keeps docs/design.md §2 under every set of them."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import find, given

from shallot_ws import WSDisconnect, websocket, ws_close, ws_send
from shallot_ws.testing import (
    DISCONNECT_1006,
    SEND_AFTER_CLOSE_IGNORED,
    SEND_AFTER_CLOSE_OSERROR,
    SEND_AFTER_DISCONNECT_OSERROR,
    ASGIViolation,
    Disconnect,
    Receive,
    Send,
    connect,
    run_flow,
)
from shallot_ws.testing.flows import expected_hooks
from shallot_ws.testing.hooks import record_hooks
from shallot_ws.testing.server import QUIRKS, check_quirks
from shallot_ws.testing.strategies import server_quirks

ACCEPT = {"type": "websocket.accept"}

# Every set of quirks a server may have: the two answers to a send after the close exclude
# each other.
QUIRK_SETS = [
    frozenset(name for name in chosen if name is not None)
    for chosen in itertools.product(
        (None, DISCONNECT_1006),
        (None, SEND_AFTER_CLOSE_IGNORED, SEND_AFTER_CLOSE_OSERROR),
        (None, SEND_AFTER_DISCONNECT_OSERROR),
    )
]


def quirk_id(quirks):
    return "+".join(sorted(quirks)) or "hypercorn"


# -- the names -------------------------------------------------------------------------


def test_the_quirks_are_four_names():
    assert sorted(QUIRKS) == [
        "disconnect_1006",
        "send_after_close_ignored",
        "send_after_close_oserror",
        "send_after_disconnect_oserror",
    ]
    assert len(QUIRK_SETS) == 12


def test_check_quirks_returns_a_frozen_set():
    assert check_quirks([DISCONNECT_1006, DISCONNECT_1006]) == frozenset({DISCONNECT_1006})
    assert check_quirks(()) == frozenset()


def test_unknown_and_conflicting_quirks_are_refused():
    with pytest.raises(ValueError) as unknown:
        check_quirks(["disconnect_1005"])
    assert str(unknown.value) == (
        "quirks expected names among ['disconnect_1006', 'send_after_close_ignored', "
        "'send_after_close_oserror', 'send_after_disconnect_oserror'], got ['disconnect_1005']"
    )
    with pytest.raises(ValueError) as both:
        check_quirks([SEND_AFTER_CLOSE_IGNORED, SEND_AFTER_CLOSE_OSERROR])
    assert str(both.value) == (
        "quirks 'send_after_close_ignored' and 'send_after_close_oserror' exclude each other"
    )
    with pytest.raises(TypeError) as text:
        check_quirks(DISCONNECT_1006)
    assert str(text.value) == (
        "quirks expected an iterable of quirk names, got str 'disconnect_1006'"
    )


def test_connect_checks_its_quirks_and_keeps_them():
    with pytest.raises(ValueError, match="got \\['nope'\\]"):
        connect(lambda scope, receive, send: None, quirks=["nope"])
    ws = connect(lambda scope, receive, send: None, quirks=[DISCONNECT_1006])
    assert ws.quirks == frozenset({DISCONNECT_1006})
    assert connect(lambda scope, receive, send: None).quirks == frozenset()


# -- disconnect_1006 -------------------------------------------------------------------


def recorder(events):
    """A raw ASGI app: accepts, then records the event that ends the connection."""

    async def app(scope, receive, send):
        await receive()
        await send(ACCEPT)
        events.append(await receive())

    return app


@pytest.mark.parametrize(
    ("quirks", "seen"),
    [
        ((), {"type": "websocket.disconnect", "code": 4001, "reason": "later"}),
        ({DISCONNECT_1006}, {"type": "websocket.disconnect", "code": 1006}),
    ],
)
async def test_the_app_sees_the_clients_code_or_1006(quirks, seen):
    events = []
    transcript = await run_flow(recorder(events), [Disconnect(4001, "later")], quirks=quirks)
    assert events == [seen]
    assert transcript.client_left == (4001, "later")  # what the client said, either way


@pytest.mark.parametrize(("quirks", "code"), [((), 4001), ({DISCONNECT_1006}, 1006)])
async def test_a_handler_sees_the_code_the_server_reports(quirks, code):
    codes = []

    @websocket
    async def waiter(scope, receiver):
        try:
            await receiver.receive()
        except WSDisconnect as gone:
            codes.append(gone.code)
        yield ws_send("never delivered")

    await run_flow(waiter, [Disconnect(4001)], quirks=quirks)
    assert codes == [code]


# -- a send after the app's own close --------------------------------------------------


def late_sender(outcomes):
    """A raw ASGI app that closes, then sends: it notes what its send did."""

    async def app(scope, receive, send):
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.close", "code": 1000, "reason": ""})
        try:
            await send({"type": "websocket.send", "text": "late"})
        except Exception as exc:
            outcomes.append(type(exc))
        else:
            outcomes.append(None)

    return app


@pytest.mark.parametrize(
    ("quirks", "outcome", "messages"),
    [
        ((), RuntimeError, [(1000, "")]),
        ({SEND_AFTER_CLOSE_IGNORED}, None, [(1000, ""), "late"]),
        ({SEND_AFTER_CLOSE_OSERROR}, OSError, [(1000, "")]),
    ],
    ids=["raises-RuntimeError", "ignored", "raises-OSError"],
)
async def test_a_send_after_the_close(quirks, outcome, messages):
    outcomes = []
    transcript = await run_flow(late_sender(outcomes), [Receive()], quirks=quirks)
    assert outcomes == [outcome]
    assert transcript.messages == messages  # the sends that returned
    assert transcript.violations == [  # a violation whatever the server does
        "expected nothing after the connection ended (closed), got "
        "{'type': 'websocket.send', 'text': 'late'}"
    ]


async def test_the_client_reports_the_violation_under_the_ignoring_quirk():
    with pytest.raises(ASGIViolation, match="expected nothing after the connection ended"):
        async with connect(late_sender([]), quirks={SEND_AFTER_CLOSE_IGNORED}) as ws:
            await ws.wait_closed()


# -- a send after the client left ------------------------------------------------------


def unaware_sender(gate, outcomes):
    """A raw ASGI app that sends once the gate opens (not knowing the client left), then
    reads the disconnect and sends again (knowing it): it notes what each send did."""

    async def attempt(send, text):
        try:
            await send({"type": "websocket.send", "text": text})
        except OSError as exc:
            outcomes.append((text, type(exc)))
        else:
            outcomes.append((text, None))

    async def app(scope, receive, send):
        await receive()
        await send(ACCEPT)
        await gate.wait()
        await attempt(send, "unaware")
        outcomes.append(await receive())
        await attempt(send, "aware")

    return app


@pytest.mark.parametrize(
    ("quirks", "error"), [((), None), ({SEND_AFTER_DISCONNECT_OSERROR}, OSError)]
)
async def test_a_send_after_the_client_left(quirks, error):
    gate, outcomes = asyncio.Event(), []
    ws = connect(unaware_sender(gate, outcomes), quirks=quirks)
    with pytest.raises(ASGIViolation) as caught:
        async with ws:
            ws.drop()
            gate.set()
    assert outcomes == [
        ("unaware", error),
        {"type": "websocket.disconnect", "code": 1006},
        ("aware", error),
    ]
    # Only the send made after the app received the disconnect is a violation.
    assert str(caught.value) == (
        "expected nothing after the app received the disconnect, got "
        "{'type': 'websocket.send', 'text': 'aware'}"
    )


async def test_without_quirks_the_server_still_plays_hypercorn():
    events = []
    async with connect(recorder(events)) as ws:
        await ws.close(4000, "bye")
    assert events == [{"type": "websocket.disconnect", "code": 4000, "reason": "bye"}]
    assert ws.quirks == frozenset()


# -- docs/design.md §2 under every quirk ---------------------------------------------------

BEHAVIOURS = ["echo", "close", "finish", "raise"]


def racing(behaviour):
    """A handler that answers its first frame by ``behaviour``: echo it, close, return or
    raise. Run under ``held``, it answers only after the client has left."""

    @websocket(drain_timeout=0.05)
    async def handler(scope, receiver):
        async for message in receiver:
            if behaviour == "close":
                yield ws_close(4000, "done")
            elif behaviour == "finish":
                return
            elif behaviour == "raise":
                raise RuntimeError("boom")
            yield ws_send(message)

    return handler


def held(app, released):
    """``app``, whose frames reach it only once ``released`` is set: it answers a frame while
    the client's leaving waits, unread, in the server's queue (the race in docs/design.md §2,
    rule 5)."""

    async def held_app(scope, receive, send):
        async def held_receive():
            event = await receive()
            if event["type"] == "websocket.receive":
                await released.wait()
            return event

        await app(scope, held_receive, send)

    return held_app


def app_closes(sent):
    return [message for message in sent if message["type"] == "websocket.close"]


@pytest.mark.parametrize("quirks", QUIRK_SETS, ids=quirk_id)
@pytest.mark.parametrize("behaviour", BEHAVIOURS)
@pytest.mark.parametrize("leave", ["drop", "disconnect"])
async def test_the_driver_keeps_design_2_when_it_answers_as_the_client_leaves(
    quirks, behaviour, leave
):
    """The handler answers a frame after the client left, before the driver knows: at most
    one close, nothing after the app knew (no violation), on_close once, on_disconnect
    exactly when no close got through, and no error but the handler's own."""
    released = asyncio.Event()
    app, hooks = record_hooks(racing(behaviour))
    async with connect(held(app, released), quirks=quirks, raise_app_exceptions=False) as ws:
        await ws.send("hi")
        if leave == "drop":
            ws.drop()
        else:
            closing = asyncio.ensure_future(ws.close(4001, "gone"))
            await asyncio.sleep(0)
        released.set()
        if leave == "disconnect":
            await closing
    assert ws.finished and ws.violations == []
    closes = app_closes(ws.sent)
    # Under send_after_disconnect_oserror the server refuses the close (OSError): it never
    # got through, and the driver treats the client as gone.
    through = closes and SEND_AFTER_DISCONNECT_OSERROR not in quirks
    assert len(closes) <= 1
    assert hooks == expected_hooks(client_left=True, app_closed=bool(through))
    errors = [type(error) for error in ws.app_exceptions]
    assert errors == ([RuntimeError] if behaviour == "raise" else [])


@pytest.mark.parametrize("quirks", QUIRK_SETS, ids=quirk_id)
@pytest.mark.parametrize("behaviour", BEHAVIOURS)
async def test_the_driver_keeps_design_2_when_the_client_leaves_after_an_answer(quirks, behaviour):
    """The ordinary order, under every quirk: the handler answers, then the client leaves."""
    transcript = await run_flow(racing(behaviour), [Send("hi"), Receive()], quirks=quirks)
    expected = {
        "echo": ["hi"],
        "close": [(4000, "done")],
        "finish": [(1000, "")],
        "raise": [(1011, "")],
    }[behaviour]
    assert transcript.messages == expected
    assert transcript.hooks == expected_hooks(
        client_left=transcript.client_left is not None, app_closed=behaviour != "echo"
    )
    assert transcript.violations == []
    assert transcript.errors == (["RuntimeError: boom"] if behaviour == "raise" else [])


@pytest.mark.parametrize(
    "quirks",
    [
        pytest.param(frozenset(), id="hypercorn"),
        pytest.param(
            frozenset({SEND_AFTER_DISCONNECT_OSERROR}),
            id="send_after_disconnect_oserror",
        ),
    ],
)
async def test_a_storing_handler_loses_nothing_when_its_ack_finds_the_client_gone(quirks):
    """docs/design.md §2, rule 5: a handler that keeps reading stores every frame sent before
    the client left, even when its acknowledgement of the first is sent after the client left."""
    stored = []

    @websocket
    async def store(scope, receiver):
        async for message in receiver:
            stored.append(message)
            yield ws_send("ack")

    released = asyncio.Event()
    async with connect(held(store, released), quirks=quirks) as ws:
        await ws.send("a")
        await ws.send("b")
        ws.drop()
        released.set()
    assert stored == ["a", "b"]


# -- the server_quirks() strategy ------------------------------------------------------


@given(server_quirks())
def test_drawn_quirks_are_valid(quirks):
    assert check_quirks(quirks) == quirks


def test_server_quirks_reach_every_set_and_shrink_to_none():
    for wanted in QUIRK_SETS:
        find(server_quirks(), lambda quirks, wanted=wanted: quirks == wanted)
    assert find(server_quirks(), lambda quirks: True) == frozenset()
