"""``contract``: declare what a handler receives and sends, once; validation at the door.

A ``Contract`` is a middleware (``handler -> handler``, used with ``compose`` or as a
decorator under ``@websocket``). Each client frame is decoded into the declared ``receives``
type before the handler sees it; what the handler yields is encoded by the same codec
(``ws_send`` and ``ws_close`` messages pass untouched). A frame that is not a declared
message never reaches the handler: by default the connection closes with 1007 and a short
reason naming the field and what was expected (never the client's value); with
``on_invalid="reply"`` an error message ``{"type": "error", "error": reason}`` is sent back
and the connection kept. Under the testing toolkit (or with ``check_sends=True``) a yielded
object that does not match ``sends`` raises ``ContractViolation`` naming it and the type.

The contract stays readable on the wrapped handler (``contract_of(handler)``), so the
AsyncAPI document and the hypothesis strategies come from the same declaration.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Any

from ..compose import SKIP, FilteredReceiver, HandlerFunction, MappedReceiver, relay
from ..errors import ConfigError, ConfigTypeError
from ..merge import EMPTY, merge
from ..messages import SEND_TYPE, ws_close
from ..middlewares._base import middleware
from ..reporting import TESTING_EXTENSION, logger
from ..signatures import callable_name
from ..types import Frame, FrameSource, Message, Scope
from .codecs import Codec, ContractViolation, InvalidFrame, Mode, make_codec, type_name

__all__ = ["CONTRACT_ATTRIBUTE", "Contract", "contract", "contract_of", "error_reply"]

CONTRACT_ATTRIBUTE = "__shallot_contract__"
OnInvalid = Callable[[str], Any]


def error_reply(reason: str) -> dict[str, str]:
    """The default answer to an invalid frame under ``on_invalid="reply"``."""
    return {"type": "error", "error": reason}


class Contract:
    """The messages of one route: what it ``receives`` and ``sends``, in which ``mode``.

    A middleware: ``contract(...)(handler)`` is the handler with its frames decoded and its
    messages encoded. Attributes: ``receives``, ``sends`` (the declared types, or ``None``),
    ``mode``, ``on_invalid``, ``check_sends``, ``name``, ``summary``, ``query`` and
    ``headers`` (types documenting the handshake's query string and headers), and the
    codecs ``receive_codec`` and ``send_codec``.
    """

    def __init__(
        self,
        *,
        receives: Any,
        sends: Any,
        mode: Mode,
        on_invalid: str | OnInvalid,
        check_sends: bool | None,
        name: str | None,
        summary: str | None,
        query: Any,
        headers: Any,
    ) -> None:
        where = f"contract {name!r}" if name else "contract"
        if mode not in ("text", "binary"):
            raise ConfigError(f"{where} expected mode 'text' or 'binary', got {mode!r}")
        if on_invalid not in ("close", "reply") and not callable(on_invalid):
            raise ConfigError(
                f"{where} expected on_invalid 'close', 'reply' or a function of the reason, "
                f"got {on_invalid!r}"
            )
        if check_sends not in (None, True, False):
            raise ConfigTypeError(f"{where} expected check_sends None, True or False")
        if receives is None and sends is None:
            raise ConfigError(f"{where} expected receives=, sends= or both, got neither")
        self.receives = receives
        self.sends = sends
        self.mode = mode
        self.on_invalid = on_invalid
        self.check_sends = check_sends
        self.name = name
        self.summary = summary
        self.query = query
        self.headers = headers
        self.receive_codec: Codec | None = (
            None if receives is None else make_codec(receives, mode, f"{where} receives")
        )
        self.send_codec: Codec | None = (
            None if sends is None else make_codec(sends, mode, f"{where} sends")
        )
        self._apply = middleware(self._wrap)

    def __repr__(self) -> str:
        parts = [f"{side}={type_name(kind)}" for side, kind in self._sides() if kind is not None]
        return f"<Contract {self.name or ''}{' ' if self.name else ''}{', '.join(parts)}>"

    def _sides(self) -> list[tuple[str, Any]]:
        return [("receives", self.receives), ("sends", self.sends)]

    def __call__(self, target: Any) -> Any:
        """Apply the contract to a handler (or a ``websocket`` app's handler)."""
        return self._apply(target)

    def checking(self, scope: Scope) -> bool:
        """Whether yielded objects are checked against ``sends`` on this connection: always
        with ``check_sends=True``, never with ``False``, under the testing toolkit with
        ``None`` (the default)."""
        if self.check_sends is not None:
            return self.check_sends
        return TESTING_EXTENSION in (scope.get("extensions") or {})

    def decode(self, frame: Frame) -> Any:
        """The declared object in a client frame (the frame itself without ``receives``);
        raises ``InvalidFrame``."""
        if self.receive_codec is None:
            return frame
        return self.receive_codec.decode(frame)

    def encode(self, value: Any, *, check: bool = False) -> Message:
        """The message that sends ``value``: ``ws_send`` and ``ws_close`` messages as they
        are, anything else encoded (and, with ``check``, checked against ``sends``)."""
        if isinstance(value, dict):
            kind = value.get("type")
            if isinstance(kind, str) and kind.startswith("websocket."):
                return value
        codec = self.send_codec
        if codec is None:
            frame: Frame = _plain(value, self.mode)
        else:
            if check:
                problem = codec.check(value)
                if problem is not None:
                    raise ContractViolation(
                        f"the handler yielded {value!r}, which is not a valid "
                        f"{type_name(codec.type)}: {problem}"
                    )
            frame = codec.encode(value)
        return _send_message(frame)

    def reply_to(self, reason: str) -> Message:
        """The message answering an invalid frame under ``on_invalid`` "reply" or a function."""
        make = error_reply if self.on_invalid == "reply" else self.on_invalid
        assert callable(make)
        value = make(reason)
        if self.on_invalid == "reply":  # not a declared message: plain JSON (or MessagePack)
            return _send_message(_plain(value, self.mode))
        return self.encode(value)  # a declared message, or a ws_close(...) passed through

    def _wrap(self, handler: HandlerFunction) -> HandlerFunction:
        close = self.on_invalid == "close"
        wrapped = self._closing(handler) if close else self._replying(handler)
        setattr(wrapped, CONTRACT_ATTRIBUTE, self)
        return wrapped

    def _closing(self, handler: HandlerFunction) -> HandlerFunction:
        contract = self
        decode = self.decode
        encode = self.encode
        name = callable_name(handler)

        async def typed(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
            check = contract.checking(scope)
            async with relay(handler, scope, MappedReceiver(receiver, decode)) as values:
                try:
                    async for value in values:
                        yield encode(value, check=check)
                except InvalidFrame as exc:  # not caught here while the handler is closing
                    logger.debug("contract of %s closing with 1007: %s", name, exc.reason)
                    yield ws_close(1007, exc.reason)

        return typed

    def _replying(self, handler: HandlerFunction) -> HandlerFunction:
        contract = self

        async def typed(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
            check = contract.checking(scope)
            replies = _Replies()

            def decoded(frame: Frame) -> Any:  # an invalid frame is answered, and skipped
                try:
                    return contract.decode(frame)
                except InvalidFrame as exc:
                    replies.put(contract.reply_to(exc.reason))
                    return SKIP

            frames = FilteredReceiver(receiver, decoded)
            async with (
                relay(handler, scope, frames) as values,
                merge(values, buffer=1, replies=replies) as events,
            ):
                async for source, value in events:
                    if source == "replies":
                        yield value
                    else:
                        yield contract.encode(value, check=check)

        return typed


def _plain(value: Any, mode: Mode) -> Frame:
    """An undeclared value as a frame: JSON text, or MessagePack in binary mode."""
    if mode == "text":
        return json.dumps(value, separators=(",", ":"))
    import msgspec

    data: bytes = msgspec.msgpack.encode(value)
    return data


def _send_message(frame: Frame) -> Message:
    """The ``websocket.send`` message of an encoded frame (trusted by the driver)."""
    if isinstance(frame, str):
        return {"type": SEND_TYPE, "text": frame}
    return {"type": SEND_TYPE, "bytes": frame}


class _Replies:
    """The answers to invalid frames, waiting to be sent: a ``merge`` ``Pollable``."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, message: Message) -> None:
        self._items.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> Any:
        return self._items.popleft() if self._items else EMPTY

    def notify(self, waiter: asyncio.Future[None] | None) -> None:
        self._waiter = waiter
        if waiter is not None and self._items and not waiter.done():
            waiter.set_result(None)


def contract(
    *,
    receives: Any = None,
    sends: Any = None,
    mode: Mode = "text",
    on_invalid: str | OnInvalid = "close",
    check_sends: bool | None = None,
    name: str | None = None,
    summary: str | None = None,
    query: Any = None,
    headers: Any = None,
) -> Contract:
    """Declare the messages of a route once: the middleware that decodes what it
    ``receives`` and encodes what it ``sends``.

    Types are ``msgspec.Struct`` (tagged unions for several kinds), dataclasses,
    ``TypedDict`` or pydantic v2 models (a union of models with a discriminator).
    ``mode="text"`` speaks JSON in text frames, ``"binary"`` MessagePack (msgspec types).
    ``on_invalid``: "close" (1007 with a reason naming the field), "reply" (an error
    message ``{"type": "error", "error": reason}``, the connection kept) or a function of
    the reason returning the message to send. ``check_sends`` checks yielded objects
    against ``sends`` (default: under the testing toolkit only). ``name``, ``summary``,
    ``query`` and ``headers`` feed the AsyncAPI document. A type the codec cannot handle, or
    a union without a tag, is a ``ConfigError`` now.
    """
    return Contract(
        receives=receives,
        sends=sends,
        mode=mode,
        on_invalid=on_invalid,
        check_sends=check_sends,
        name=name,
        summary=summary,
        query=query,
        headers=headers,
    )


def contract_of(target: Any) -> Contract | None:
    """The contract declared on a handler or app (through any middlewares that keep the
    handler's attributes), or ``None``."""
    handler = getattr(target, "handler", target)
    found = getattr(handler, CONTRACT_ATTRIBUTE, None)
    return found if isinstance(found, Contract) else None
