"""Type aliases for ASGI and for shallot_ws handlers and hooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, Literal, TypedDict

__all__ = [
    "ASGIApp",
    "Denial",
    "Frame",
    "Handler",
    "Hook",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketResponseBodyEvent",
    "WebSocketResponseStartEvent",
    "WebSocketSendEvent",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Frame = str | bytes
Handler = Callable[[Scope, Any], AsyncIterator[Any]]
Hook = Callable[[Scope], Awaitable[Any]]


class _SendType(TypedDict):
    type: Literal["websocket.send"]


class WebSocketSendEvent(_SendType, total=False):
    text: str
    bytes: bytes


class WebSocketCloseEvent(TypedDict):
    type: Literal["websocket.close"]
    code: int
    reason: str


class _AcceptType(TypedDict):
    type: Literal["websocket.accept"]


class WebSocketAcceptEvent(_AcceptType, total=False):
    subprotocol: str
    headers: list[tuple[bytes, bytes]]


class WebSocketResponseStartEvent(TypedDict):
    type: Literal["websocket.http.response.start"]
    status: int
    headers: list[tuple[bytes, bytes]]


class WebSocketResponseBodyEvent(TypedDict):
    type: Literal["websocket.http.response.body"]
    body: bytes
    more_body: bool


Denial = tuple[WebSocketResponseStartEvent, WebSocketResponseBodyEvent]
