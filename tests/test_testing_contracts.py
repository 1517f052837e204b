"""testing.contracts and testing.contract_machine: strategies, a state machine and a flow
check derived from a contract, and a broken handler found by them."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import json
import subprocess
import sys
import uuid
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import msgspec
import pydantic
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from shallot_ws import ConfigError, websocket, ws_send
from shallot_ws.contracts import InvalidFrame, contract
from shallot_ws.testing import (
    BadFrame,
    ContractMachine,
    Receive,
    Send,
    bad_frames,
    check_sends,
    contract_frames,
    invalid_frames,
    messages,
    run_flow,
)
from shallot_ws.testing.contract_machine import expected_answer
from shallot_ws.testing.contracts import FAULTS, kind_of
from shallot_ws.testing.strategies import flows

MANY = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
MACHINE = settings(max_examples=25, stateful_step_count=8, deadline=None)


# -- the declarations ----------------------------------------------------------------------


class Join(msgspec.Struct, tag="join"):
    room: str


class Say(msgspec.Struct, tag="say"):
    text: str
    loud: bool = False


class Rename(msgspec.Struct, tag="rename"):
    name: str


class Said(msgspec.Struct, tag="said"):
    name: str
    text: str


class Renamed(msgspec.Struct, tag="renamed"):
    name: str


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Point(msgspec.Struct):
    x: int
    y: list[str] = []


class Tree(msgspec.Struct):
    value: int
    children: list[Tree] = []


class Everything(msgspec.Struct, tag="everything", rename="camel"):
    """One field of each kind the strategies build, nested and bounded ones included."""

    some_text: str
    count: Annotated[int, msgspec.Meta(ge=0, le=10)]
    ratio: float
    flag: bool
    data: bytes
    maybe: int | None
    pick: Literal["a", "b"]
    colour: Colour
    level: Level
    when: datetime.datetime
    day: datetime.date
    ident: uuid.UUID
    money: decimal.Decimal
    point: Point
    points: list[Point]
    scores: dict[str, int]
    pair: tuple[int, str]
    many: tuple[int, ...]
    tags: set[str]
    frozen: frozenset[int]
    anything: Any
    tree: Tree
    short: Annotated[str, msgspec.Meta(min_length=2, max_length=4)]
    word: Annotated[str, msgspec.Meta(pattern="^[a-z]+$")]
    even: Annotated[int, msgspec.Meta(multiple_of=2, gt=-100, lt=100)]
    unset: int | msgspec.UnsetType = msgspec.UNSET
    default: int = 5


@dataclasses.dataclass
class Move:
    x: int
    y: float = 0.0


class Position(TypedDict):
    x: int
    label: NotRequired[str]


class PJoin(pydantic.BaseModel):
    type: Literal["join"]
    room: str
    seats: int = pydantic.Field(default=3, ge=1, le=9)
    data: bytes = b""


class PSay(pydantic.BaseModel):
    type: Literal["say"]
    text: str = pydantic.Field(max_length=12)
    at: datetime.datetime | None = None


PIn = Annotated[PJoin | PSay, pydantic.Field(discriminator="type")]

CHAT = contract(receives=Join | Say | Rename, sends=Said | Renamed, name="chat")
CONTRACTS = {
    "msgspec union": CHAT,
    "every field kind": contract(receives=Everything | Join),
    "every field kind, binary": contract(receives=Everything | Join, mode="binary"),
    "dataclass": contract(receives=Move),
    "TypedDict": contract(receives=Position),
    "pydantic union": contract(receives=PIn),
}
MESSAGES = {name: messages(declared) for name, declared in CONTRACTS.items()}
BAD = {name: bad_frames(declared) for name, declared in CONTRACTS.items()}


# -- valid messages --------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONTRACTS)
@MANY
@given(data=st.data())
def test_every_drawn_message_encodes_and_decodes_back_equal(name, data):
    """Invariant: a drawn message is valid for its codec and survives the round trip."""
    codec = CONTRACTS[name].receive_codec
    message = data.draw(MESSAGES[name])
    assert codec.check(message) is None
    assert codec.decode(codec.encode(message)) == message


def test_each_kind_of_a_union_is_drawn():
    seen = set()

    @given(messages(CHAT))
    def draw(message):
        seen.add(type(message))

    draw()
    assert seen == {Join, Say, Rename}


def test_a_field_with_a_default_is_sometimes_left_out():
    loud = set()

    @given(messages(Say))
    def draw(message):
        loud.add(message.loud)

    draw()
    assert loud == {False, True}


@pytest.mark.parametrize(("mode", "frame_type"), [("text", str), ("binary", bytes)])
@given(data=st.data())
def test_frames_are_the_encoded_messages(mode, frame_type, data):
    declared = contract(receives=Join | Say, mode=mode)
    frame = data.draw(contract_frames(declared))
    assert type(frame) is frame_type
    assert type(declared.decode(frame)) in (Join, Say)


@given(contract_frames(CHAT, side="sends"))
def test_the_send_side_is_drawn_too(frame):
    assert type(CHAT.send_codec.decode(frame)) in (Said, Renamed)


async def silent(scope, receiver):
    async for _ in receiver:
        yield ws_send("")


@given(messages(websocket(CHAT(silent))))
def test_the_contract_is_found_on_an_app(message):
    assert type(message) in (Join, Say, Rename)


def test_what_cannot_be_drawn_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match=r"<Contract receives=Join> declares no sends type"):
        messages(contract(receives=Join), side="sends")
    with pytest.raises(ValueError, match=r"expected side 'receives' or 'sends', got 'in'"):
        messages(CHAT, side="in")
    with pytest.raises(ConfigError, match="contract receives cannot use complex"):
        messages(complex)
    with pytest.raises(ValueError, match=r"expected faults among .*, got \('typo',\)"):
        bad_frames(CHAT, faults=["typo"])
    with pytest.raises(ValueError, match=r"int allows none of the faults \('unknown tag',\)"):
        bad_frames(int, faults=["unknown tag"])


def test_kind_of_names_the_declared_kind_of_an_object():
    assert kind_of(Rename("x"), (Join, Rename)) is Rename
    assert kind_of({"x": 1}, (Position,)) is Position
    assert kind_of("a", (Literal["a", "b"],)) == Literal["a", "b"]
    assert kind_of(3, (Join,)) is None


# -- invalid frames --------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONTRACTS)
@MANY
@given(data=st.data())
def test_every_bad_frame_is_refused_and_the_reason_never_holds_the_bad_value(name, data):
    """Invariant: the contract refuses each bad frame; its reason never echoes the value."""
    bad = data.draw(BAD[name])
    with pytest.raises(InvalidFrame) as refused:
        CONTRACTS[name].decode(bad.frame)
    if isinstance(bad.value, str):
        assert bad.value.startswith(("bad-value-", "bad-tag-"))
        assert bad.value not in refused.value.reason


ALLOWED = {
    "msgspec union": set(FAULTS),
    "every field kind": set(FAULTS),
    "every field kind, binary": set(FAULTS),
    "dataclass": set(FAULTS) - {"unknown tag"},
    "TypedDict": set(FAULTS) - {"unknown tag"},
    "pydantic union": set(FAULTS),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", CONTRACTS)
def test_each_fault_the_type_allows_is_drawn_alone(name, fault):
    if fault not in ALLOWED[name]:
        with pytest.raises(ValueError, match=f"allows none of the faults \\('{fault}',\\)"):
            bad_frames(CONTRACTS[name], faults=[fault])
        return
    drawn = set()

    @settings(max_examples=3, phases=[Phase.generate])
    @given(bad_frames(CONTRACTS[name], faults=[fault]))
    def draw(bad):
        drawn.add(bad.fault)

    draw()
    assert drawn == {fault}


def reason_of(frame):
    try:
        CHAT.decode(frame)
    except InvalidFrame as exc:
        return exc.reason
    raise AssertionError(f"accepted {frame!r}")


@given(bad_frames(CHAT, faults=["wrong type"]))
def test_a_wrong_type_is_named_at_its_field(bad):
    reason = reason_of(bad.frame)
    if bad.field is None:  # the whole message
        assert reason.startswith("$: expected object, got ")
    else:
        assert reason.startswith(f"$.{bad.field}: expected ")
        assert json.loads(bad.frame)[bad.field] == bad.value


@given(bad_frames(CHAT, faults=["missing field"]))
def test_a_missing_field_is_named(bad):
    assert bad.field not in json.loads(bad.frame)
    assert reason_of(bad.frame) == f"$: missing field {bad.field}"


@given(bad_frames(CHAT, faults=["unknown tag"]))
def test_an_unknown_tag_is_refused(bad):
    assert json.loads(bad.frame)["type"] == bad.value
    assert reason_of(bad.frame) == "$.type: not one of the declared values"


@given(bad_frames(CHAT, faults=["bad encoding"]))
def test_bad_json_is_refused(bad):
    assert reason_of(bad.frame) == "invalid JSON"


@given(bad_frames(contract(receives=Join | Say, mode="binary"), faults=["bad encoding"]))
def test_bad_messagepack_is_refused(bad):
    with pytest.raises(InvalidFrame, match="^invalid MessagePack$"):
        contract(receives=Join | Say, mode="binary").decode(bad.frame)


@given(invalid_frames(CHAT, faults=["wrong frame kind"]))
def test_the_other_frame_kind_is_refused(frame):
    assert isinstance(frame, bytes)
    assert reason_of(frame) == "expected a text frame"


@given(contract_frames(CHAT, valid=False))
def test_frames_not_valid_are_the_invalid_frames(frame):
    with pytest.raises(InvalidFrame):
        CHAT.decode(frame)


def test_a_bad_frame_says_how_it_was_made():
    assert str(BadFrame("{}", "missing field", "Join", "room")) == (
        "a Join message without its field 'room'"
    )
    assert str(BadFrame("{", "bad encoding", "Say")) == "a Say message that does not decode"
    assert str(BadFrame('{"type":1}', "unknown tag", "Say", "type", 1)) == (
        "a Say message with an unknown tag at 'type'"
    )


# -- the state machine -----------------------------------------------------------------------


def chat_app(*, broken: bool = False, **options: Any) -> Any:
    """The chat: Join moves, Say is said back, Rename answered with Renamed; ``broken``
    answers Rename with an object missing its name."""

    @websocket
    @contract(receives=Join | Say | Rename, sends=Said | Renamed, **options)
    async def chat(scope, receiver):
        name = "anon"
        async for message in receiver:
            if isinstance(message, Rename):
                name = message.name
                yield {"type": "renamed"} if broken else Renamed(name)
            elif isinstance(message, Say):
                yield Said(name, message.text.upper() if message.loud else message.text)

    return chat


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"on_invalid": "reply"},
        {"mode": "binary"},
        {"on_invalid": lambda reason: Said("", reason)},
    ],
    ids=["close", "reply", "binary", "function"],
)
def test_a_handler_that_keeps_its_contract_passes(options):
    class ChatMachine(ContractMachine):
        app = chat_app(**options)

    run_state_machine_as_test(ChatMachine, settings=MACHINE)


def test_a_pydantic_contract_drives_the_machine():
    @websocket
    @contract(receives=PIn, sends=PSay, on_invalid="reply")
    async def echo(scope, receiver):
        async for message in receiver:
            text = message.text if isinstance(message, PSay) else message.room
            yield PSay(type="say", text=text[:12])

    class EchoMachine(ContractMachine):
        app = echo

    run_state_machine_as_test(EchoMachine, settings=MACHINE)


# Hypothesis searches (derandomized: the same examples on every run) and shrinks; no
# explain phase (it reruns the failure under a tracer, seconds for nothing asserted here).
SHOWCASE = settings(
    max_examples=200,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate, Phase.shrink],
)


def falsifying_steps(error: BaseException) -> list[str]:
    notes = getattr(error, "__notes__", [])
    return [note for note in notes if note.startswith("state.send")]


def test_a_malformed_reply_to_one_kind_is_found_and_shrunk_to_that_kind():
    class BrokenChatMachine(ContractMachine):
        app = chat_app(broken=True)

    with pytest.raises(AssertionError) as failed:
        run_state_machine_as_test(BrokenChatMachine, settings=SHOWCASE)
    assert str(failed.value) == (
        "after the client sent a Rename message, Rename(name=''), the handler yielded "
        "{'type': 'renamed'}, which is not a valid Said | Renamed: Object missing required "
        "field `name`"
    )
    assert falsifying_steps(failed.value) == ["state.send_message(message=Rename(name=''))"]


def test_the_machine_checks_the_frames_when_the_app_does_not():
    class UncheckedMachine(ContractMachine):
        app = chat_app(broken=True, check_sends=False)

    with pytest.raises(AssertionError) as failed:
        run_state_machine_as_test(UncheckedMachine, settings=SHOWCASE)
    assert str(failed.value) == (
        "after the client sent a Rename message, Rename(name=''), the app sent "
        '\'{"type":"renamed"}\', which is not a valid Said | Renamed: $: missing field name'
    )
    assert falsifying_steps(failed.value) == ["state.send_message(message=Rename(name=''))"]


FAILING = settings(
    max_examples=50,
    stateful_step_count=8,
    deadline=None,
    report_multiple_bugs=False,
    phases=[Phase.generate],
)


def test_a_raw_frame_outside_the_contract_is_caught():
    @websocket
    @contract(receives=Join | Say | Rename, sends=Said | Renamed)
    async def chatty(scope, receiver):
        async for message in receiver:
            yield ws_send(f"got a {type(message).__name__}")  # passes the codec untouched

    class ChattyMachine(ContractMachine):
        app = chatty

    with pytest.raises(AssertionError, match=r"the app sent 'got a \w+', which is not a valid "):
        run_state_machine_as_test(ChattyMachine, settings=FAILING)


def test_an_invalid_frame_without_its_answer_is_caught():
    @websocket
    async def lenient(scope, receiver):  # decodes by itself, and skips what it cannot
        async for frame in receiver:
            try:
                message = CHAT.decode(frame)
            except InvalidFrame:
                continue
            if isinstance(message, Say):
                yield ws_send(CHAT.send_codec.encode(Said("anon", message.text)))

    class LenientMachine(ContractMachine):
        app = lenient
        contract = CHAT
        answer_timeout = 0.01

    with pytest.raises(
        AssertionError, match=r"^the app answered a .* with nothing within 0.01 s, "
    ):
        run_state_machine_as_test(LenientMachine, settings=FAILING)


def test_a_valid_message_refused_is_caught():
    @websocket
    @contract(receives=Join | Say, sends=Said | Renamed)  # no Rename
    async def narrow(scope, receiver):
        async for message in receiver:
            if isinstance(message, Say):
                yield Said("anon", message.text)

    class WiderMachine(ContractMachine):
        app = narrow
        contract = CHAT
        send_invalid = False

    with pytest.raises(AssertionError) as failed:
        run_state_machine_as_test(WiderMachine, settings=FAILING)
    assert str(failed.value).startswith("after the client sent a Rename message, Rename(")
    assert str(failed.value).endswith(
        ", the app closed with 1007 '$.type: not one of the declared values', though the "
        "client sent valid messages only"
    )


def test_valid_messages_only_when_asked():
    class ValidOnlyMachine(ContractMachine):
        app = chat_app()
        send_invalid = False

        def check_end(self):
            assert self.sent_invalid == []
            assert self.ws.close_code != 1007

    run_state_machine_as_test(ValidOnlyMachine, settings=MACHINE)


def test_the_machine_needs_a_contract():
    class NoContract(ContractMachine):
        app = websocket(silent)

    with pytest.raises(TypeError, match="NoContract expected an app declared with contract"):
        NoContract()


def test_the_documented_answers():
    assert expected_answer(CHAT, '{"type":"join","room":"x"}') is None
    assert expected_answer(CHAT, "{") == (1007, "invalid JSON")
    replying = contract(receives=Join, on_invalid="reply")
    assert expected_answer(replying, "{") == '{"type":"error","error":"invalid JSON"}'
    closing = contract(receives=Join, on_invalid=lambda reason: {"type": "websocket.close"})
    assert expected_answer(closing, "{") == (1000, "")


# -- flows -------------------------------------------------------------------------------------


REPLYING_CHAT = chat_app(on_invalid="reply")


@settings(max_examples=30, deadline=None)
@given(flows(frames=st.one_of(contract_frames(CHAT), invalid_frames(CHAT)), max_steps=6))
def test_any_flow_of_the_chat_keeps_its_contract(flow):
    transcript = asyncio.run(run_flow(REPLYING_CHAT, flow))
    check_sends(transcript, REPLYING_CHAT, flow)  # the error replies aside
    assert transcript.errors == []


async def test_check_sends_names_what_the_client_sent():
    flow = [Send('{"type":"join","room":"x"}'), Send('{"type":"rename","name":"n"}'), Receive()]
    transcript = await run_flow(chat_app(broken=True, check_sends=False), flow)
    with pytest.raises(AssertionError) as failed:
        check_sends(transcript, CHAT, flow)
    assert str(failed.value) == (
        'after the client sent Join, Rename, the app sent \'{"type":"renamed"}\', which is '
        "not a valid Said | Renamed: $: missing field name"
    )
    transcript = await run_flow(chat_app(broken=True), flow)
    with pytest.raises(AssertionError, match=r"^after the client sent Join, Rename, the handler"):
        check_sends(transcript, chat_app(), flow)


def test_the_testing_package_imports_hypothesis_and_the_codecs_only_when_asked():
    code = (
        "import sys, shallot_ws.testing as t; print(sorted(m for m in ('hypothesis', 'msgspec',"
        " 'pydantic') if m in sys.modules)); t.ContractMachine; print('hypothesis' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["[]", "True"]
