"""Channels and operations of the AsyncAPI document: the routes of a router walked (mounts
included), each one a channel with its address and parameters, and a route with a contract
given its messages, WebSocket binding and ``receive``/``send`` operations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..app import WebSocketApp
from ..routing import Mount, Route, Router
from .asyncapi_schemas import (
    ERROR_REPLY,
    ERROR_REPLY_SCHEMA,
    MSGPACK,
    Schemas,
    binding_schema,
    identifier,
    messages_of,
)
from .asyncapi_security import security_of
from .contract import Contract, contract_of

__all__ = ["WS_BINDING_VERSION", "Document", "Endpoint", "endpoints_of"]

WS_BINDING_VERSION = "0.1.0"

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


@dataclass(frozen=True)
class Endpoint:
    """One websocket route, flattened: its full pattern, name (``url_for``'s) and app."""

    pattern: str
    name: str | None
    app: WebSocketApp


def endpoints_of(
    table: Router, prefix: str = "", names: tuple[str, ...] = ()
) -> Iterator[Endpoint]:
    """The websocket routes of ``table``, mounts opened: full patterns, names joined by
    ``:``."""
    for entry in table.routes:
        if isinstance(entry, Route):
            name = ":".join((*names, entry.name)) if entry.name is not None else None
            yield Endpoint(prefix + entry.pattern.source, name, entry.app)
        elif isinstance(entry, Mount):
            inner = (*names, entry.name) if entry.name is not None else names
            yield from endpoints_of(entry.router, prefix + entry.prefix.source, inner)


def _address(pattern: str) -> tuple[str, dict[str, Any]]:
    """The AsyncAPI address of a route pattern (``{room:int}`` becomes ``{room}``) and its
    parameter objects."""
    parameters = {
        found[1]: {"description": _PARAMETER_TEXT[found[2] or "str"]}
        for found in _PARAMETER.finditer(pattern)
    }
    return _PARAMETER.sub(lambda found: "{" + found[1] + "}", pattern), parameters


class Document:
    """The document being built: channels, operations and components, route by route."""

    def __init__(self) -> None:
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.schemas = Schemas()
        self.security: dict[str, Any] = {}

    def channel_id(self, endpoint: Endpoint, contract: Contract | None) -> str:
        """A key for the route's channel, unique in the document: its name, else its pattern."""
        if endpoint.name is not None:
            base = identifier(endpoint.name.replace(":", "."))
        elif endpoint.pattern == "":  # a single app
            named = contract.name if contract is not None and contract.name else None
            base = identifier(named or str(getattr(endpoint.app, "__name__", "app")))
        else:
            base = identifier(_PARAMETER.sub(lambda found: found[1], endpoint.pattern))
        key, count = base, 1
        while key in self.channels:
            count += 1
            key = f"{base}-{count}"
        return key

    def add(self, endpoint: Endpoint) -> None:
        """The route as a channel; with a contract, its messages, binding and operations."""
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
            else messages_of(contract.receives, contract, self.schemas, f"{owner} receives")
        )
        sends = (
            {}
            if contract.sends is None
            else messages_of(contract.sends, contract, self.schemas, f"{owner} sends")
        )
        if contract.on_invalid == "reply" and contract.receives is not None:
            self.schemas.add(ERROR_REPLY, ERROR_REPLY_SCHEMA, f"{owner} on_invalid")
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
                binding[side] = binding_schema(kind, contract, self.schemas, f"{owner} {side}")
        if binding:
            channel["bindings"] = {"ws": {**binding, "bindingVersion": WS_BINDING_VERSION}}
        security = security_of(endpoint.app, self.security)
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
        """One operation of a channel: its action, messages and security requirements."""
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
