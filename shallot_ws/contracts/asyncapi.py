"""``asyncapi``: the AsyncAPI 3.0.0 document of a router or a websocket app, from its contracts.

Theory of operation. The router's table is walked (mounts included): every route becomes a
channel whose ``address`` is its full pattern in AsyncAPI's ``{param}`` syntax, with a
``parameters`` entry for each path parameter. A route with a ``contract`` gets two
operations, from the app's side: ``<channel>.receive`` (``action: receive``, what clients
send) and ``<channel>.send`` (``action: send``, what the app sends). Each member of a union
is one message of the channel, named after its type, whose payload is a ``$ref`` into
``components.schemas`` (JSON Schema made by the contract's codec, msgspec or pydantic).
Under ``on_invalid="reply"`` the app may also send ``ErrorReply`` (``{"type": "error",
"error": reason}``). A contract's ``query`` and ``headers`` types become the WebSocket
channel binding (``bindings.ws``). A ``bearer_auth`` guard (on the route, a mount or the
app) becomes security schemes, one per place it reads a token from, listed on both
operations (any one of them is enough).

A route without a contract is still a channel (its address and parameters), without
messages or operations: the document says it exists, not what it speaks. A single app
(no router) is one channel at ``/``.

Two types with the same name but different schemas (two ``Join`` classes on two routes) are
a ``ConfigError`` naming both routes and the type: the document has one namespace of
schema names.

``main(argv)`` is the command line (``python -m shallot_ws.asyncapi module:app``).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..app import WebSocketApp
from ..errors import ConfigError, ConfigTypeError
from ..guards.auth import BearerAuth
from ..routing import Mount, Route, Router
from ..signatures import describe
from ..types import Hook
from .codecs import kinds_of, make_codec, type_name
from .contract import Contract, contract_of

__all__ = ["ASYNCAPI_VERSION", "ERROR_REPLY", "REF_TEMPLATE", "asyncapi", "asyncapi_schema", "main"]

ASYNCAPI_VERSION = "3.0.0"
WS_BINDING_VERSION = "0.1.0"
REF_TEMPLATE = "#/components/schemas/{name}"
JSON = "application/json"
MSGPACK = "application/msgpack"
ERROR_REPLY = "ErrorReply"  # the message (and schema) of on_invalid="reply"

_ERROR_REPLY_SCHEMA: dict[str, Any] = {
    "title": ERROR_REPLY,
    "description": "The answer to a frame that is not one of the declared messages; "
    "the connection stays open.",
    "type": "object",
    "properties": {"type": {"enum": ["error"]}, "error": {"type": "string"}},
    "required": ["type", "error"],
}

_PARAMETER = re.compile(r"\{([^{}:]+)(?::([^{}]*))?\}")
_PARAMETER_TEXT = {
    "str": "One path segment (no '/').",
    "int": "A non-negative integer, in digits.",
    "float": "A non-negative number: digits, or digits.digits.",
    "uuid": "A UUID: 8-4-4-4-12 hexadecimal digits.",
    "path": "The rest of the path, '/' included; may be empty.",
}
_INVALID_TEXT = {
    "close": "Any other frame closes the connection with 1007 and a reason naming the field.",
    "reply": f"Any other frame is answered with {ERROR_REPLY}; the connection stays open.",
}
_INVALID_BY_FUNCTION = (
    "Any other frame is answered by the app's own function (its answers are among what it sends)."
)
_NAME = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True)
class _Endpoint:
    """One websocket route, flattened: its full pattern, name (``url_for``'s) and app."""

    pattern: str
    name: str | None
    app: WebSocketApp


def _endpoints(table: Router, prefix: str = "", names: tuple[str, ...] = ()) -> Iterator[_Endpoint]:
    for entry in table.routes:
        if isinstance(entry, Route):
            name = ":".join((*names, entry.name)) if entry.name is not None else None
            yield _Endpoint(prefix + entry.pattern.source, name, entry.app)
        elif isinstance(entry, Mount):
            inner = (*names, entry.name) if entry.name is not None else names
            yield from _endpoints(entry.router, prefix + entry.prefix.source, inner)


def _address(pattern: str) -> tuple[str, dict[str, Any]]:
    """The AsyncAPI address of a route pattern (``{room:int}`` becomes ``{room}``) and its
    parameter objects."""
    parameters = {
        found[1]: {"description": _PARAMETER_TEXT[found[2] or "str"]}
        for found in _PARAMETER.finditer(pattern)
    }
    return _PARAMETER.sub(lambda found: "{" + found[1] + "}", pattern), parameters


def _identifier(text: str) -> str:
    """A channel or component key: letters, digits, ``_``, ``.`` and ``-``."""
    return _NAME.sub("-", text).strip("-") or "root"


class _Schemas:
    """``components.schemas``, filled route by route; a name that comes twice with two
    different schemas is a ``ConfigError`` naming both owners."""

    def __init__(self) -> None:
        self.found: dict[str, Any] = {}
        self._owners: dict[str, str] = {}

    def add(self, name: str, schema: Any, owner: str) -> None:
        schema = asyncapi_schema(schema)
        known = self.found.get(name)
        if known is None:
            self.found[name] = schema
            self._owners[name] = owner
        elif known != schema:
            raise ConfigError(
                f"asyncapi: {self._owners[name]} and {owner} declare two types named "
                f"{name!r} with different schemas: rename one of them"
            )

    def ref(self, name: str) -> dict[str, str]:
        return {"$ref": REF_TEMPLATE.format(name=name)}


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_VALUES = ("enum", "const", "default", "examples", "required")


def asyncapi_schema(schema: Any) -> Any:
    """A JSON Schema as AsyncAPI's Schema Object takes it: its ``discriminator`` is the
    property's name, where msgspec and pydantic write OpenAPI's object
    (``{"propertyName": "type", "mapping": ...}``)."""
    if isinstance(schema, list):
        return [asyncapi_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "discriminator" and isinstance(value, dict) and "propertyName" in value:
            converted[key] = value["propertyName"]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            converted[key] = {name: asyncapi_schema(item) for name, item in value.items()}
        elif key in _VALUES:
            converted[key] = value
        else:
            converted[key] = asyncapi_schema(value)
    return converted


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    """The component a schema is only a reference to, if it is one."""
    ref = schema.get("$ref")
    prefix = REF_TEMPLATE.format(name="")
    if len(schema) == 1 and isinstance(ref, str) and ref.startswith(prefix):
        return ref[len(prefix) :]
    return None


def _messages(
    kind: Any, contract: Contract, schemas: _Schemas, owner: str
) -> dict[str, dict[str, Any]]:
    """One message per member of ``kind``, named after it, its payload a ``$ref``."""
    found: dict[str, dict[str, Any]] = {}
    for member in kinds_of(kind):
        codec = make_codec(member, contract.mode, owner)
        top, components = codec.schema(REF_TEMPLATE)
        for component, schema in components.items():
            schemas.add(component, schema, owner)
        name = _ref_name(top)
        if name is None:  # not a named type (str, list[int]): named after its type here
            name = _identifier(member.__name__ if isinstance(member, type) else type_name(member))
            schemas.add(name, top, owner)
        message: dict[str, Any] = {"name": name, "payload": schemas.ref(name)}
        if contract.mode == "binary":
            message["contentType"] = MSGPACK
        found[name] = message
    return found


def _binding_schema(kind: Any, contract: Contract, schemas: _Schemas, owner: str) -> Any:
    """The inline object schema of a ``query`` or ``headers`` type (the binding asks for
    ``type: object`` with ``properties``); the types it refers to go to the components."""
    top, components = make_codec(kind, "text", owner).schema(REF_TEMPLATE)
    name = _ref_name(top)
    if name is not None:
        top = components.pop(name)
    if not isinstance(top, dict) or top.get("type") != "object" or "properties" not in top:
        raise ConfigError(
            f"asyncapi: {owner} expected an object type (a TypedDict, Struct, dataclass or "
            f"model), got {type_name(kind)}"
        )
    for other, schema in components.items():
        schemas.add(other, schema, owner)
    return asyncapi_schema(top)


def _guards(hook: Hook | None) -> Iterator[Any]:
    """The guards inside an ``on_connect`` hook (``guarded`` chains opened, in order)."""
    if hook is None:
        return
    inner = getattr(hook, "guards", None)
    if isinstance(inner, tuple):
        for guard in inner:
            yield from _guards(guard)
    else:
        yield hook


def _security_schemes(guard: BearerAuth) -> Iterator[tuple[str, dict[str, Any]]]:
    """The AsyncAPI security schemes of a ``bearer_auth`` guard: one per token source."""
    if guard.header == "authorization":
        yield (
            "bearer",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "A bearer token: `Authorization: Bearer <token>`.",
            },
        )
    elif guard.header is not None:
        yield (
            f"header-{guard.header}",
            {
                "type": "httpApiKey",
                "in": "header",
                "name": guard.header,
                "description": f"A bearer token: `{guard.header}: Bearer <token>`.",
            },
        )
    if guard.cookie is not None:
        yield (
            f"cookie-{guard.cookie}",
            {
                "type": "httpApiKey",
                "in": "cookie",
                "name": guard.cookie,
                "description": f"A bearer token in the cookie `{guard.cookie}`.",
            },
        )
    if guard.subprotocol_prefix is not None:
        yield (
            f"subprotocol-{guard.subprotocol_prefix}",
            {
                "type": "httpApiKey",
                "in": "header",
                "name": "sec-websocket-protocol",
                "description": "A bearer token offered as a subprotocol: "
                f"`{guard.subprotocol_prefix}<token>`.",
            },
        )
    if guard.query_param is not None:
        yield (
            f"query-{guard.query_param}",
            {
                "type": "httpApiKey",
                "in": "query",
                "name": guard.query_param,
                "description": f"A bearer token in the query parameter `{guard.query_param}`.",
            },
        )


class _Document:
    """The document being built: channels, operations and components, route by route."""

    def __init__(self) -> None:
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.schemas = _Schemas()
        self.security: dict[str, Any] = {}

    def channel_id(self, endpoint: _Endpoint, contract: Contract | None) -> str:
        if endpoint.name is not None:
            base = _identifier(endpoint.name.replace(":", "."))
        elif endpoint.pattern == "":  # a single app
            named = contract.name if contract is not None and contract.name else None
            base = _identifier(named or str(getattr(endpoint.app, "__name__", "app")))
        else:
            base = _identifier(_PARAMETER.sub(lambda found: found[1], endpoint.pattern))
        key, count = base, 1
        while key in self.channels:
            count += 1
            key = f"{base}-{count}"
        return key

    def add(self, endpoint: _Endpoint) -> None:
        contract = contract_of(endpoint.app)
        key = self.channel_id(endpoint, contract)
        owner = f"route {endpoint.pattern!r}" if endpoint.pattern else f"app {endpoint.app!r}"
        address, parameters = _address(endpoint.pattern or "/")
        channel: dict[str, Any] = {"address": address}
        self.channels[key] = channel
        if contract is None:
            channel["description"] = "A websocket route without a contract: messages not declared."
            if parameters:
                channel["parameters"] = parameters
            return
        if contract.name:
            channel["title"] = contract.name
        if contract.summary:
            channel["summary"] = contract.summary
        receives = (
            {}
            if contract.receives is None
            else _messages(contract.receives, contract, self.schemas, f"{owner} receives")
        )
        sends = (
            {}
            if contract.sends is None
            else _messages(contract.sends, contract, self.schemas, f"{owner} sends")
        )
        if contract.on_invalid == "reply" and contract.receives is not None:
            self.schemas.add(ERROR_REPLY, _ERROR_REPLY_SCHEMA, f"{owner} on_invalid")
            reply: dict[str, Any] = {"name": ERROR_REPLY, "payload": self.schemas.ref(ERROR_REPLY)}
            if contract.mode == "binary":
                reply["contentType"] = MSGPACK
            sends.setdefault(ERROR_REPLY, reply)
        channel["messages"] = {**receives, **sends}
        if parameters:
            channel["parameters"] = parameters
        binding: dict[str, Any] = {}
        for side, kind in (("query", contract.query), ("headers", contract.headers)):
            if kind is not None:
                binding[side] = _binding_schema(kind, contract, self.schemas, f"{owner} {side}")
        if binding:
            channel["bindings"] = {"ws": {**binding, "bindingVersion": WS_BINDING_VERSION}}
        security = self.security_of(endpoint.app)
        frames = (
            "binary frames of MessagePack" if contract.mode == "binary" else "text frames of JSON"
        )
        if receives:
            invalid = _INVALID_TEXT.get(str(contract.on_invalid), _INVALID_BY_FUNCTION)
            self.operation(
                f"{key}.receive",
                "receive",
                key,
                receives,
                "What clients send.",
                f"One message per frame ({frames}). {invalid}",
                security,
            )
        if sends:
            self.operation(
                f"{key}.send",
                "send",
                key,
                sends,
                "What the app sends.",
                f"One message per frame ({frames}).",
                security,
            )

    def operation(
        self,
        key: str,
        action: str,
        channel: str,
        messages: Mapping[str, Any],
        summary: str,
        description: str,
        security: list[dict[str, str]],
    ) -> None:
        operation: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": summary,
            "description": description,
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in messages],
        }
        if security:
            operation["security"] = security
        self.operations[key] = operation

    def security_of(self, app: WebSocketApp) -> list[dict[str, str]]:
        refs: list[dict[str, str]] = []
        for guard in _guards(app.on_connect):
            if not isinstance(guard, BearerAuth):
                continue
            for name, scheme in _security_schemes(guard):
                key = _identifier(name)
                self.security.setdefault(key, scheme)
                ref = {"$ref": f"#/components/securitySchemes/{key}"}
                if ref not in refs:
                    refs.append(ref)
        return refs


def asyncapi(
    app: Any,
    *,
    title: str,
    version: str,
    servers: Mapping[str, Mapping[str, Any]] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of ``app`` (a router or a ``websocket`` app) as a dict,
    ready for ``json.dumps``.

    ``title`` and ``version`` are the document's ``info``; ``servers`` maps names to Server
    Objects as AsyncAPI writes them (``{"production": {"host": "chat.example.com",
    "protocol": "wss"}}``). Each route is a channel; the routes with a ``contract`` get a
    ``receive`` and a ``send`` operation, their messages and schemas, the WebSocket binding
    for the contract's ``query`` and ``headers`` types, and the security schemes of their
    ``bearer_auth`` guards. Two types of one name with different schemas are a
    ``ConfigError`` naming both routes.
    """
    for name, value in (("title", title), ("version", version)):
        if not isinstance(value, str) or not value:
            raise ConfigTypeError(f"asyncapi expected {name} as a non-empty str, got {value!r}")
    if description is not None and not isinstance(description, str):
        raise ConfigTypeError(f"asyncapi expected description as a str, got {description!r}")
    if servers is not None and not (
        isinstance(servers, Mapping) and all(isinstance(s, Mapping) for s in servers.values())
    ):
        raise ConfigTypeError(
            f"asyncapi expected servers as a dict of Server Objects, got {servers!r}"
        )
    if isinstance(app, Router):
        endpoints = list(_endpoints(app))
    elif isinstance(app, WebSocketApp):
        endpoints = [_Endpoint("", None, app)]
    else:
        raise ConfigTypeError(f"asyncapi expected a router or a websocket app, got {describe(app)}")
    built = _Document()
    for endpoint in endpoints:
        built.add(endpoint)
    info: dict[str, Any] = {"title": title, "version": version}
    if description is not None:
        info["description"] = description
    document: dict[str, Any] = {"asyncapi": ASYNCAPI_VERSION, "info": info}
    if servers:
        document["servers"] = copy.deepcopy({name: dict(s) for name, s in servers.items()})
    document["defaultContentType"] = JSON
    document["channels"] = built.channels
    document["operations"] = built.operations
    components: dict[str, Any] = {}
    if built.schemas.found:
        components["schemas"] = dict(sorted(built.schemas.found.items()))
    if built.security:
        components["securitySchemes"] = built.security
    if components:
        document["components"] = components
    return document


# -- the command line --------------------------------------------------------------------


def _server(text: str) -> tuple[str, dict[str, str]]:
    """``name=wss://host[:port][/path]`` as a Server Object."""
    name, equals, url = text.partition("=")
    parts = urlsplit(url)
    if (
        not equals
        or not _identifier(name) == name
        or parts.scheme not in ("ws", "wss")
        or not parts.netloc
        or parts.query
        or parts.fragment
    ):
        raise argparse.ArgumentTypeError(
            f"expected name=ws://host[:port][/path] or name=wss://..., got {text!r}"
        )
    server = {"host": parts.netloc, "protocol": parts.scheme}
    if parts.path not in ("", "/"):
        server["pathname"] = parts.path
    return name, server


def _load(target: str) -> Any:
    """The object ``module:attribute`` names (``attribute`` may be dotted)."""
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise ConfigError(f"expected module:attribute, got {target!r}")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m shallot_ws.asyncapi module:app [--title T] [--version V]
    [--description D] [--server name=wss://host/path ...]``: print the app's AsyncAPI
    document as JSON. Returns the exit status (1 when the app cannot be loaded or described)."""
    parser = argparse.ArgumentParser(
        prog="python -m shallot_ws.asyncapi",
        description="Print the AsyncAPI 3.0.0 document of a shallot_ws router or app.",
    )
    parser.add_argument("app", help="the router or websocket app, as module:attribute")
    parser.add_argument("--title", help="info.title (default: the app's module:attribute)")
    parser.add_argument("--version", default="0.0.0", help="info.version (default: 0.0.0)")
    parser.add_argument("--description", help="info.description")
    parser.add_argument(
        "--server",
        action="append",
        type=_server,
        default=[],
        metavar="NAME=URL",
        help="a server, as name=wss://host[:port][/path]; repeat for several",
    )
    options = parser.parse_args(argv)
    try:
        document = asyncapi(
            _load(options.app),
            title=options.title or options.app,
            version=options.version,
            servers=dict(options.server) or None,
            description=options.description,
        )
    except ConfigError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0
