"""contract(): typed messages decoded at the door, encoded on the way out, checked in tests."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Literal, TypedDict

import msgspec
import pydantic
import pytest

from shallot_ws import ConfigError, compose, websocket, ws_close, ws_send
from shallot_ws.contracts import Contract, ContractViolation, contract, contract_of
from shallot_ws.middlewares import wrap_logging
from shallot_ws.testing import AppClosed, connect


class Join(msgspec.Struct, tag="join"):
    room: str


class Say(msgspec.Struct, tag="say"):
    text: str
    loud: bool = False


class Said(msgspec.Struct, tag="said"):
    room: str
    text: str


chat_contract = contract(receives=Join | Say, sends=Said, name="chat")


@websocket
@chat_contract
async def chat(scope, receiver):
    room = "lobby"
    async for message in receiver:
        if isinstance(message, Join):
            room = message.room
        else:
            text = message.text.upper() if message.loud else message.text
            yield Said(room, text)


async def test_the_handler_reads_typed_objects_and_its_objects_go_out_as_json():
    async with connect(chat) as ws:
        await ws.send('{"type": "join", "room": "kitchen"}')
        await ws.send('{"type": "say", "text": "hi", "loud": true}')
        assert json.loads(await ws.receive()) == {"type": "said", "room": "kitchen", "text": "HI"}


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ('{"type": "join", "room": 7}', "$.room: expected str, got int"),
        ('{"type": "join"}', "$: missing field room"),
        ('{"type": "dance"}', "$.type: not one of the declared values"),
        ('{"room": "x"}', "$: missing field type"),
        ("[1, 2]", "$: expected object, got array"),
        ("not json", "invalid JSON"),
        (b'{"type": "join", "room": "x"}', "expected a text frame"),
    ],
)
async def test_an_invalid_frame_closes_with_1007_naming_the_field(frame, reason):
    async with connect(chat) as ws:
        await ws.send(frame)
        assert await ws.wait_closed() == 1007
        assert ws.close_reason == reason


async def test_the_reason_never_holds_the_clients_value():
    class Pick(msgspec.Struct):
        colour: Literal["red", "green"]

    @websocket
    @contract(receives=Pick)
    async def picky(scope, receiver):
        async for _ in receiver:
            yield ws_send("ok")

    async with connect(picky) as ws:
        await ws.send('{"colour": "my-password-123"}')
        assert await ws.wait_closed() == 1007
    assert ws.close_reason == "$.colour: not one of the declared values"
    assert "my-password" not in ws.close_reason


async def test_reply_mode_answers_an_invalid_frame_and_keeps_the_connection():
    @websocket
    @contract(receives=Say, sends=Said, on_invalid="reply")
    async def echo(scope, receiver):
        async for message in receiver:
            yield Said("here", message.text)

    async with connect(echo) as ws:
        await ws.send('{"type": "say", "text": 1}')
        assert json.loads(await ws.receive()) == {
            "type": "error",
            "error": "$.text: expected str, got int",
        }
        await ws.send('{"type": "say", "text": "still here"}')
        assert json.loads(await ws.receive()) == {
            "type": "said",
            "room": "here",
            "text": "still here",
        }
        await ws.close()
    assert ws.close_code is None  # the app never closed: the client left


async def test_a_function_builds_the_answer_to_an_invalid_frame():
    @websocket
    @contract(receives=Say, sends=Said, on_invalid=lambda reason: Said("errors", reason))
    async def echo(scope, receiver):
        async for message in receiver:
            yield Said("here", message.text)

    async with connect(echo) as ws:
        await ws.send("{")
        assert json.loads(await ws.receive()) == {
            "type": "said",
            "room": "errors",
            "text": "invalid JSON",
        }


async def test_binary_mode_speaks_messagepack():
    @websocket
    @contract(receives=Say, sends=Said, mode="binary")
    async def echo(scope, receiver):
        async for message in receiver:
            yield Said("bin", message.text)

    async with connect(echo) as ws:
        await ws.send(msgspec.msgpack.encode(Say("packed")))
        assert msgspec.msgpack.decode(await ws.receive_bytes()) == {
            "type": "said",
            "room": "bin",
            "text": "packed",
        }
        await ws.send("text")
        assert await ws.wait_closed() == 1007
    assert ws.close_reason == "expected a binary frame"


@dataclasses.dataclass
class Move:
    x: int
    y: int


class Position(TypedDict):
    x: int
    y: int


async def test_dataclasses_and_typed_dicts_are_declarable():
    @websocket
    @contract(receives=Move, sends=Position)
    async def board(scope, receiver):
        async for move in receiver:
            assert isinstance(move, Move)
            yield Position(x=move.x + 1, y=move.y)

    async with connect(board) as ws:
        await ws.send('{"x": 1, "y": 2}')
        assert json.loads(await ws.receive()) == {"x": 2, "y": 2}
        await ws.send('{"x": "1", "y": 2}')
        assert await ws.wait_closed() == 1007
    assert ws.close_reason == "$.x: expected int, got str"


class PJoin(pydantic.BaseModel):
    type: Literal["join"]
    room: str


class PSay(pydantic.BaseModel):
    type: Literal["say"]
    text: str


PIn = Annotated[PJoin | PSay, pydantic.Field(discriminator="type")]


async def test_pydantic_models_with_a_discriminator():
    @websocket
    @contract(receives=PIn, sends=PSay)
    async def echo(scope, receiver):
        async for message in receiver:
            yield PSay(type="say", text=getattr(message, "text", message.room))

    async with connect(echo) as ws:
        await ws.send('{"type": "join", "room": "den"}')
        assert json.loads(await ws.receive()) == {"type": "say", "text": "den"}
        await ws.send('{"type": "say"}')
        assert await ws.wait_closed() == 1007
    assert ws.close_reason == "$.say.text: missing field"


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"receives": complex}, "contract receives cannot use complex: "),
        ({"receives": PJoin | PSay}, "a union of models needs a tag"),
        ({"receives": PJoin, "mode": "binary"}, "expected msgspec types for binary"),
        ({"receives": Say, "mode": "json"}, "expected mode 'text' or 'binary', got 'json'"),
        ({"receives": Say, "on_invalid": "ignore"}, "expected on_invalid 'close', 'reply'"),
        ({}, "expected receives=, sends= or both, got neither"),
    ],
)
def test_bad_declarations_fail_at_import_time(options, text):
    with pytest.raises(ConfigError, match=text):
        contract(**options)


def test_a_union_of_untagged_structs_names_the_contract_and_the_type():
    class A(msgspec.Struct):
        a: int

    class B(msgspec.Struct):
        b: int

    with pytest.raises(ConfigError) as info:
        contract(receives=A | B, name="pairs")
    assert str(info.value).startswith("contract 'pairs' receives cannot use ")
    assert "A | " in str(info.value) and "must be tagged" in str(info.value)


async def test_a_yielded_object_that_breaks_the_contract_fails_the_test():
    @websocket
    @contract(receives=Say, sends=Said)
    async def sloppy(scope, receiver):
        async for message in receiver:
            yield Said(room=42, text=message.text)  # type: ignore[arg-type]

    with pytest.raises(ContractViolation) as info:
        async with connect(sloppy) as ws:
            await ws.send('{"type": "say", "text": "x"}')
            await ws.receive()
    assert str(info.value) == (
        "the handler yielded Said(room=42, text='x'), which is not a valid Said: "
        "Expected `str`, got `int` - at `$.room`"
    )
    assert ws.close_code == 1011


async def test_the_check_can_be_off_and_is_off_outside_the_testing_toolkit():
    loose = contract(receives=Say, sends=Said, check_sends=False)
    assert not loose.checking({"extensions": {"shallot_ws.testing": {}}})
    assert chat_contract.checking({"extensions": {"shallot_ws.testing": {}}})
    assert not chat_contract.checking({"type": "websocket"})
    assert contract(sends=Said, check_sends=True).checking({"type": "websocket"})

    @websocket
    @loose
    async def sloppy(scope, receiver):
        async for message in receiver:
            yield Said(room=42, text=message.text)  # type: ignore[arg-type]

    async with connect(sloppy) as ws:
        await ws.send('{"type": "say", "text": "x"}')
        assert json.loads(await ws.receive()) == {"type": "said", "room": 42, "text": "x"}


async def test_ws_messages_pass_untouched():
    @websocket
    @contract(receives=Say, sends=Said)
    async def mixed(scope, receiver):
        yield ws_send("plain")
        async for message in receiver:
            yield ws_close(4000, message.text)

    async with connect(mixed) as ws:
        assert await ws.receive() == "plain"
        await ws.send('{"type": "say", "text": "bye"}')
        with pytest.raises(AppClosed):
            await ws.receive()
    assert (ws.close_code, ws.close_reason) == (4000, "bye")


def test_the_contract_is_found_on_the_app_through_other_middlewares():
    assert contract_of(chat) is chat_contract
    logged = compose(wrap_logging)(chat)
    assert contract_of(logged) is chat_contract
    assert contract_of(websocket(compose(wrap_logging)(chat.handler))) is chat_contract
    assert isinstance(chat_contract, Contract)
    assert repr(chat_contract) == "<Contract chat receives=Join | Say, sends=Said>"


async def test_one_clients_bad_frame_does_not_touch_another_connection():
    async with connect(chat) as good, connect(chat) as bad:
        await bad.send("{")
        await good.send('{"type": "say", "text": "fine"}')
        assert await bad.wait_closed() == 1007
        assert json.loads(await good.receive()) == {"type": "said", "room": "lobby", "text": "fine"}


async def test_a_pydantic_field_alias_is_the_name_on_the_wire():
    class Renamed(pydantic.BaseModel):
        room_name: str = pydantic.Field(alias="roomName")

    @websocket
    @contract(receives=Renamed, sends=Renamed)
    async def echo(scope, receiver):
        async for message in receiver:
            yield Renamed(roomName=message.room_name.upper())

    async with connect(echo) as ws:
        await ws.send('{"roomName": "den"}')
        assert json.loads(await ws.receive()) == {"roomName": "DEN"}
