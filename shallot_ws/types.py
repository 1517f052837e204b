"""Type aliases for ASGI and for shallot_ws handlers and hooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from .errors import WSDisconnect

__all__ = [
    "ASGIApp",
    "Denial",
    "Frame",
    "FrameSource",
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

T_co = TypeVar("T_co", covariant=True)


@runtime_checkable
class FrameSource(Protocol[T_co]):
    """What a handler reads its client from: the driver's ``Receiver`` (``FrameSource[Frame]``)
    and every receiver a middleware hands on (``MappedReceiver``: ``FrameSource[T]``).

    ``async for item in source`` ends once the client has left and everything that arrived
    before is handed out; ``await source.receive()`` returns one item and raises
    ``WSDisconnect`` from then on.
    """

    def __aiter__(self) -> AsyncIterator[T_co]:
        """The items, in the order the client sent them."""
        ...

    async def receive(self) -> T_co:
        """The next item; raises ``WSDisconnect`` once the client has left."""
        ...

    @property
    def buffered(self) -> int:
        """How many frames have arrived that the handler has not taken yet."""
        ...

    @property
    def dropped(self) -> int:
        """Frames dropped because the buffer stayed full while the handler did not read."""
        ...

    @property
    def disconnected(self) -> WSDisconnect | None:
        """The client's disconnect, or ``None`` while connected."""
        ...

    @property
    def arrived_at(self) -> float | None:
        """When (the loop's ``time()``) the newest frame waiting unread arrived, or
        ``None`` while none waits."""
        ...


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
