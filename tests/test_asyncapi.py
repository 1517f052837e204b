"""asyncapi(): the AsyncAPI 3.0.0 document of a router, checked exactly and by the official
parser (``@asyncapi/parser``, tests/asyncapi); the command line; the clash ConfigError."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TypedDict

import msgspec
import pytest

from shallot_ws import ConfigError, ConfigTypeError, bearer_auth, mount, route, router, websocket
from shallot_ws.contracts import asyncapi, contract
from tests import asyncapi_apps
from tests.asyncapi_parser import assert_valid, diagnostics, installed_package

ROOT = Path(__file__).resolve().parent.parent
SERVERS = {"production": {"host": "chat.example.com", "protocol": "wss"}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def message(name: str) -> dict[str, object]:
    return {"name": name, "payload": ref(name)}


def operation(channel, action, names, description, security=None):
    found = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": "What clients send." if action == "receive" else "What the app sends.",
        "description": description,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names],
    }
    if security is not None:
        found["security"] = security
    return found


CLOSES = (
    "One message per frame (text frames of JSON). Any other frame closes the connection with "
    "1007 and a reason naming the field."
)
SENDS = "One message per frame (text frames of JSON)."

SAID = {
    "title": "Said",
    "description": "A message said in the room.",
    "type": "object",
    "properties": {
        "type": {"enum": ["said"]},
        "user": {"type": "string"},
        "text": {"type": "string"},
    },
    "required": ["type", "user", "text"],
}
SAY = {
    "title": "Say",
    "type": "object",
    "properties": {"type": {"enum": ["say"]}, "text": {"type": "string"}},
    "required": ["type", "text"],
}


@pytest.fixture(scope="module")
def document():
    return asyncapi(
        asyncapi_apps.app,
        title="Rooms",
        version="1.2.0",
        servers=SERVERS,
        description="Talk in rooms.",
    )


def test_info_and_servers_are_the_callers(document):
    assert list(document) == [
        "asyncapi",
        "info",
        "servers",
        "defaultContentType",
        "channels",
        "operations",
        "components",
    ]
    assert document["asyncapi"] == "3.0.0"
    assert document["info"] == {
        "title": "Rooms",
        "version": "1.2.0",
        "description": "Talk in rooms.",
    }
    assert document["servers"] == SERVERS
    assert document["servers"] is not SERVERS
    assert document["defaultContentType"] == "application/json"
    assert list(document["channels"]) == ["room", "private-user", "echo", "orders", "raw"]


def test_a_route_with_a_path_parameter_and_a_tagged_union(document):
    assert document["channels"]["room"] == {
        "address": "/rooms/{room}",
        "title": "Room",
        "summary": "Talk in a room.",
        "messages": {"Join": message("Join"), "Say": message("Say"), "Said": message("Said")},
        "parameters": {"room": {"description": "One path segment (no '/')."}},
        "bindings": {
            "ws": {
                "query": {
                    "title": "RoomQuery",
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                },
                "bindingVersion": "0.1.0",
            }
        },
    }
    operations = document["operations"]
    assert operations["room.receive"] == operation("room", "receive", ["Join", "Say"], CLOSES)
    assert operations["room.send"] == operation("room", "send", ["Said"], SENDS)
    schemas = document["components"]["schemas"]
    assert schemas["Join"] == {
        "title": "Join",
        "description": "Join a room.",
        "type": "object",
        "properties": {"type": {"enum": ["join"]}, "room": {"type": "string"}},
        "required": ["type", "room"],
    }
    assert schemas["Say"] == SAY
    assert schemas["Said"] == SAID
    assert "RoomQuery" not in schemas  # the binding has it inline, as the binding asks


def test_a_bearer_guarded_route_lists_its_security_scheme(document):
    assert document["channels"]["private-user"] == {
        "address": "/private/{user}",
        "messages": {"Said": message("Said")},
        "parameters": {"user": {"description": "A non-negative integer, in digits."}},
    }
    bearer = [{"$ref": "#/components/securitySchemes/bearer"}]
    assert "private-user.receive" not in document["operations"]  # it declares no receives
    assert document["operations"]["private-user.send"] == operation(
        "private-user", "send", ["Said"], SENDS, bearer
    )
    assert document["components"]["securitySchemes"] == {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A bearer token: `Authorization: Bearer <token>`.",
        }
    }
    for key in ("room.receive", "room.send", "echo.send", "orders.send"):
        assert "security" not in document["operations"][key]


def test_reply_mode_adds_the_error_reply_to_what_the_app_sends(document):
    assert document["channels"]["echo"] == {
        "address": "/echo",
        "messages": {
            "Say": message("Say"),
            "Said": message("Said"),
            "ErrorReply": message("ErrorReply"),
        },
    }
    assert document["operations"]["echo.receive"] == operation(
        "echo",
        "receive",
        ["Say"],
        "One message per frame (text frames of JSON). Any other frame is answered with "
        "ErrorReply; the connection stays open.",
    )
    assert document["operations"]["echo.send"] == operation(
        "echo", "send", ["Said", "ErrorReply"], SENDS
    )
    assert document["components"]["schemas"]["ErrorReply"] == {
        "title": "ErrorReply",
        "description": "The answer to a frame that is not one of the declared messages; "
        "the connection stays open.",
        "type": "object",
        "properties": {"type": {"enum": ["error"]}, "error": {"type": "string"}},
        "required": ["type", "error"],
    }


def test_a_pydantic_route_has_its_models_schemas(document):
    assert document["channels"]["orders"] == {
        "address": "/orders",
        "messages": {"Buy": message("Buy"), "Sell": message("Sell"), "Ack": message("Ack")},
    }
    assert document["operations"]["orders.receive"] == operation(
        "orders", "receive", ["Buy", "Sell"], CLOSES
    )
    assert document["operations"]["orders.send"] == operation("orders", "send", ["Ack"], SENDS)
    schemas = document["components"]["schemas"]
    assert schemas["Buy"] == {
        "properties": {
            "type": {"const": "buy", "default": "buy", "title": "Type", "type": "string"},
            "item": {"title": "Item", "type": "string"},
            "quantity": {"title": "Quantity", "type": "integer"},
        },
        "required": ["item", "quantity"],
        "title": "Buy",
        "type": "object",
    }
    assert schemas["Ack"] == {
        "description": "The order was taken.",
        "properties": {"order": {"title": "Order", "type": "integer"}},
        "required": ["order"],
        "title": "Ack",
        "type": "object",
    }
    assert list(schemas) == ["Ack", "Buy", "ErrorReply", "Join", "Said", "Say", "Sell"]


def test_a_route_without_a_contract_is_a_channel_without_messages(document):
    assert document["channels"]["raw"] == {
        "address": "/raw",
        "description": "A websocket route without a contract: messages not declared.",
    }
    assert [key for key in document["operations"] if key.startswith("raw")] == []


def test_the_parser_finds_no_error_in_the_routers_document(document):
    assert_valid(document)


def test_the_parser_finds_no_error_in_the_chat_examples_document():
    from examples.chat import app as chat

    document = asyncapi(chat, title="Chat", version="1", servers=SERVERS)
    assert list(document["channels"]) == ["room"]
    assert document["channels"]["room"]["address"] == "/rooms/{room}"
    assert_valid(document)


CHAT_COMMAND = [
    "examples.chat:app",
    "--title",
    "shallot_ws chat example",
    "--version",
    "1.0.0",
    "--description",
    "Rooms with history and presence: examples/chat/.",
    "--server",
    "local=ws://127.0.0.1:8000",
]


def test_the_chat_examples_document_in_docs_is_up_to_date():
    # docs/chat-asyncapi.json is generated by: python -m shallot_ws.asyncapi <CHAT_COMMAND>
    import json
    import pathlib
    import subprocess
    import sys

    path = pathlib.Path(__file__).parent.parent / "docs" / "chat-asyncapi.json"
    made = subprocess.run(
        [sys.executable, "-m", "shallot_ws.asyncapi", *CHAT_COMMAND],
        capture_output=True,
        text=True,
        check=True,
        cwd=path.parent.parent,
    ).stdout
    assert json.loads(path.read_text()) == json.loads(made), (
        "docs/chat-asyncapi.json is stale: regenerate it with python -m shallot_ws.asyncapi "
        + " ".join(repr(part) if " " in part else part for part in CHAT_COMMAND)
        + " > docs/chat-asyncapi.json"
    )
    assert_valid(json.loads(made))


def test_the_parser_check_is_not_vacuous():
    broken = {"asyncapi": "3.0.0", "info": {"title": "x"}, "channels": {"a": {"address": 3}}}
    errors = sorted(
        (".".join(d["path"]), d["message"]) for d in diagnostics(broken) if d["severity"] == 0
    )
    assert errors == [
        ("channels.a.address", '"address" property type must be string,null'),
        ("info", '"info" property must have required property "version"'),
    ]


# -- mounts, single apps, binary mode, nested unions, the other token sources ----------------


class A(msgspec.Struct, tag="a"):
    x: int


class B(msgspec.Struct, tag="b"):
    y: str


class Batch(msgspec.Struct):
    items: list[A | B]


class Headers(TypedDict):
    authorization: str


@websocket
@contract(receives=Batch, sends=list[int], mode="binary", name="batches", headers=Headers)
async def batches(scope, receiver):
    async for batch in receiver:
        yield [len(batch.items)]


def test_a_single_app_is_one_channel_at_the_root_named_after_its_contract():
    document = asyncapi(batches, title="Batches", version="1")
    assert "servers" not in document
    assert document["channels"] == {
        "batches": {
            "address": "/",
            "title": "batches",
            "messages": {
                "Batch": {**message("Batch"), "contentType": "application/msgpack"},
                "list-int": {**message("list-int"), "contentType": "application/msgpack"},
            },
            "bindings": {
                "ws": {
                    "headers": {
                        "title": "Headers",
                        "type": "object",
                        "properties": {"authorization": {"type": "string"}},
                        "required": ["authorization"],
                    },
                    "bindingVersion": "0.1.0",
                }
            },
        }
    }
    assert document["operations"]["batches.receive"]["description"] == (
        "One message per frame (binary frames of MessagePack). Any other frame closes the "
        "connection with 1007 and a reason naming the field."
    )
    schemas = document["components"]["schemas"]
    # msgspec writes OpenAPI's discriminator object; AsyncAPI's Schema Object takes the name
    assert schemas["Batch"]["properties"]["items"] == {
        "type": "array",
        "items": {"anyOf": [ref("A"), ref("B")], "discriminator": "type"},
    }
    assert schemas["list-int"] == {"type": "array", "items": {"type": "integer"}}
    assert list(schemas) == ["A", "B", "Batch", "list-int"]  # sorted by name
    assert_valid(document)


def test_mounts_join_their_prefixes_parameters_and_names():
    api = router([route("/rooms/{room}", asyncapi_apps.room, name="room")])
    table = router([mount("/v{major:int}", api, name="api"), ("/files/{rest:path}", batches)])
    document = asyncapi(table, title="Mounted", version="1")
    assert {key: c["address"] for key, c in document["channels"].items()} == {
        "api.room": "/v{major}/rooms/{room}",
        "files-rest": "/files/{rest}",
    }
    assert document["channels"]["api.room"]["parameters"] == {
        "major": {"description": "A non-negative integer, in digits."},
        "room": {"description": "One path segment (no '/')."},
    }
    assert document["channels"]["files-rest"]["parameters"] == {
        "rest": {"description": "The rest of the path, '/' included; may be empty."}
    }
    assert list(document["operations"]) == [
        "api.room.receive",
        "api.room.send",
        "files-rest.receive",
        "files-rest.send",
    ]
    assert_valid(document)


def test_every_token_source_of_bearer_auth_is_a_security_scheme():
    guard = bearer_auth(
        asyncapi_apps.verify,
        header="x-token",
        cookie="session",
        subprotocol_prefix="bearer.",
        query_param="token",
    )
    table = router(
        [
            route("/a", asyncapi_apps.echo, guards=[guard]),
            mount("/m", router([("/b", asyncapi_apps.private)]), guards=[bearer_auth(str)]),
        ]
    )
    document = asyncapi(table, title="Guarded", version="1")
    schemes = {
        "header-x-token": {
            "type": "httpApiKey",
            "in": "header",
            "name": "x-token",
            "description": "A bearer token: `x-token: Bearer <token>`.",
        },
        "cookie-session": {
            "type": "httpApiKey",
            "in": "cookie",
            "name": "session",
            "description": "A bearer token in the cookie `session`.",
        },
        "subprotocol-bearer.": {
            "type": "httpApiKey",
            "in": "header",
            "name": "sec-websocket-protocol",
            "description": "A bearer token offered as a subprotocol: `bearer.<token>`.",
        },
        "query-token": {
            "type": "httpApiKey",
            "in": "query",
            "name": "token",
            "description": "A bearer token in the query parameter `token`.",
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A bearer token: `Authorization: Bearer <token>`.",
        },
    }
    assert document["components"]["securitySchemes"] == schemes
    any_of_four = [{"$ref": f"#/components/securitySchemes/{key}"} for key in list(schemes)[:4]]
    assert document["operations"]["a.receive"]["security"] == any_of_four
    assert document["operations"]["a.send"]["security"] == any_of_four
    assert document["operations"]["m-b.send"]["security"] == [
        {"$ref": "#/components/securitySchemes/bearer"}
    ]
    assert_valid(document)


def test_the_apps_own_guard_counts_too():
    guarded = websocket(
        asyncapi_apps.private.handler,
        on_connect=bearer_auth(asyncapi_apps.verify, header=None, query_param="token"),
    )
    document = asyncapi(guarded, title="Own guard", version="1")
    assert document["operations"]["private.send"]["security"] == [
        {"$ref": "#/components/securitySchemes/query-token"}
    ]
    assert list(document["components"]["securitySchemes"]) == ["query-token"]


# -- clashes and bad arguments -----------------------------------------------------------------


def test_two_types_of_one_name_with_different_schemas_are_a_config_error():
    class Said(msgspec.Struct, tag="said"):  # not asyncapi_apps.Said: another field
        words: list[str]

    @websocket
    @contract(sends=Said)
    async def other(scope, receiver):
        yield Said(["hi"])

    table = router([("/rooms/{room}", asyncapi_apps.room), ("/other", other)])
    with pytest.raises(ConfigError) as caught:
        asyncapi(table, title="Clash", version="1")
    assert str(caught.value) == (
        "asyncapi: route '/rooms/{room}' sends and route '/other' sends declare two types "
        "named 'Said' with different schemas: rename one of them"
    )


def test_the_same_type_on_two_routes_is_one_schema():
    table = router([("/one", asyncapi_apps.echo), ("/two", asyncapi_apps.echo)])
    document = asyncapi(table, title="Twice", version="1")
    assert list(document["channels"]) == ["one", "two"]
    assert list(document["components"]["schemas"]) == ["ErrorReply", "Said", "Say"]


def test_a_query_type_that_is_not_an_object_is_a_config_error():
    @websocket
    @contract(sends=str, query=str)
    async def plain(scope, receiver):
        yield "hi"

    with pytest.raises(ConfigError) as caught:
        asyncapi(router([("/plain", plain)]), title="Plain", version="1")
    assert str(caught.value) == (
        "asyncapi: route '/plain' query expected an object type (a TypedDict, Struct, "
        "dataclass or model), got str"
    )


@pytest.mark.parametrize(
    ("target", "options", "text"),
    [
        (3, {}, "asyncapi expected a router or a websocket app, got 3"),
        (batches, {"title": ""}, "asyncapi expected title as a non-empty str, got ''"),
        (batches, {"version": 1}, "asyncapi expected version as a non-empty str, got 1"),
        (
            batches,
            {"servers": ["wss://x"]},
            "asyncapi expected servers as a dict of Server Objects, got ['wss://x']",
        ),
    ],
)
def test_bad_arguments_are_named(target, options, text):
    with pytest.raises(ConfigTypeError) as caught:
        asyncapi(target, **{"title": "T", "version": "1", **options})
    assert str(caught.value) == text


def test_channel_keys_never_collide():
    table = router([("/a-b", batches), ("/a_b", batches), route("/x", batches, name="a-b")])
    document = asyncapi(table, title="Keys", version="1")
    assert {key: c["address"] for key, c in document["channels"].items()} == {
        "a-b": "/a-b",
        "a_b": "/a_b",
        "a-b-2": "/x",
    }


# -- the command line --------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shallot_ws.asyncapi", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_line_prints_the_document():
    result = run_cli(
        "tests.asyncapi_apps:app",
        "--title",
        "Rooms",
        "--version",
        "1.2.0",
        "--description",
        "Talk in rooms.",
        "--server",
        "production=wss://chat.example.com",
        "--server",
        "local=ws://127.0.0.1:8000/ws",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    expected = asyncapi(
        asyncapi_apps.app,
        title="Rooms",
        version="1.2.0",
        description="Talk in rooms.",
        servers={
            **SERVERS,
            "local": {"host": "127.0.0.1:8000", "protocol": "ws", "pathname": "/ws"},
        },
    )
    assert result.stdout == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"


def test_the_command_line_defaults_the_title_and_version():
    result = run_cli("tests.asyncapi_apps:app")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["info"] == {"title": "tests.asyncapi_apps:app", "version": "0.0.0"}
    assert "servers" not in document


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (
            ["tests.asyncapi_apps:nothing"],
            1,
            "python -m shallot_ws.asyncapi: error: module 'tests.asyncapi_apps' has no "
            "attribute 'nothing'",
        ),
        (
            ["tests.asyncapi_apps"],
            1,
            "python -m shallot_ws.asyncapi: error: expected module:attribute, got "
            "'tests.asyncapi_apps'",
        ),
        (
            ["tests.nowhere:app"],
            1,
            "python -m shallot_ws.asyncapi: error: cannot import 'tests.nowhere': No module "
            "named 'tests.nowhere'",
        ),
        (
            ["tests.asyncapi_apps:verify"],
            1,
            "python -m shallot_ws.asyncapi: error: asyncapi expected a router or a websocket "
            "app, got a plain (sync) function",
        ),
        (
            ["tests.asyncapi_apps:app", "--server", "production=https://x"],
            2,
            "python -m shallot_ws.asyncapi: error: argument --server: expected "
            "name=ws://host[:port][/path] or name=wss://..., got 'production=https://x'",
        ),
    ],
)
def test_the_command_line_names_what_went_wrong(args, code, error):
    result = run_cli(*args)
    assert result.returncode == code
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == error


def test_a_missing_install_fails_naming_the_command():
    with pytest.raises(pytest.fail.Exception) as caught:
        installed_package("@asyncapi/nothing")
    assert str(caught.value) == (
        "@asyncapi/nothing is not installed in tests/asyncapi/node_modules: run "
        "`npm ci --prefix tests/asyncapi --ignore-scripts --no-audit --no-fund` from the "
        "project root (.ci/run does)"
    )
