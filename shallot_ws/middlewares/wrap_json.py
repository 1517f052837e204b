"""wrap_json: the handler reads JSON values and yields JSON values; the client sees JSON frames.

Frames in are parsed (text mode: text frames; binary mode: binary frames holding UTF-8
JSON); values yielded are encoded into a frame of the mode's kind, except the messages of
``ws_send`` and ``ws_close`` (dicts whose ``"type"`` starts with ``"websocket."``), which
pass through untouched. A frame that does not parse, or a frame of the other kind, reaches
the handler where it reads as an ``InvalidMessage``; if the handler lets it out, the
connection closes with 1007 and a short reason (never the parser's text). ``loads`` and
``dumps`` are pluggable (orjson, msgspec, ...): ``dumps`` may return ``str`` or ``bytes``.

The pure transformation is ``decode_json`` and ``encode_json``; the middleware runs
specialised copies of them, built once per configuration, on the per-frame path.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from typing import Any, Literal, overload

from ..compose import HandlerFunction, MappedReceiver, Middleware, relay
from ..errors import ConfigError, ConfigTypeError, InvalidMessage, InvalidMessageType
from ..messages import ws_close, ws_send
from ..reporting import logger
from ..types import Frame, FrameSource, Scope, WebSocketCloseEvent, WebSocketSendEvent
from ._base import middleware

__all__ = ["JSONMode", "decode_json", "encode_json", "wrap_json"]

JSONMode = Literal["text", "binary"]
Loads = Callable[[Any], Any]
Dumps = Callable[[Any], str | bytes]

INVALID_JSON = "invalid JSON"
_EXPECTED_REASON = {"text": "expected a text frame", "binary": "expected a binary frame"}

# json.loads and json.dumps with their defaults come down to these two bound methods, which
# skip the keyword checks of every call (the output is the same).
_DEFAULT_DECODE = json.JSONDecoder().decode
_DEFAULT_ENCODE = json.JSONEncoder().encode


class _BadFrame(InvalidMessage):
    """A client frame wrap_json cannot decode; ``reason`` is the short close reason."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(text)
        self.reason = reason


def _kind(frame: object) -> str:
    if isinstance(frame, str):
        return "a text frame"
    if isinstance(frame, bytes):
        return "a binary frame"
    return type(frame).__name__


def _check_mode(mode: object, where: str) -> None:
    if mode not in ("text", "binary"):
        raise ConfigError(f"{where} expected mode 'text' or 'binary', got {mode!r}")


def _decoder(loads: Loads, mode: str) -> Callable[[Frame], Any]:
    """The per-frame decoding function for ``loads`` and ``mode``."""
    if mode == "text":
        parse: Loads = _DEFAULT_DECODE if loads is json.loads else loads
        frame_type: type = str
    else:
        default = loads is json.loads

        def parse(frame: Any) -> Any:  # the bytes as they came; the stdlib gets strict UTF-8
            return loads(frame.decode("utf-8") if default else frame)

        frame_type = bytes
    reason = _EXPECTED_REASON[mode]

    def decode(frame: Frame) -> Any:
        if frame.__class__ is frame_type:
            try:
                return parse(frame)
            except Exception as exc:
                raise _BadFrame(
                    f"wrap_json expected valid JSON in {_kind(frame)}, "
                    f"got {type(exc).__name__}: {exc}",
                    INVALID_JSON,
                ) from exc
        raise _BadFrame(f"wrap_json {reason}, got {_kind(frame)}", reason)

    return decode


def _encoder(dumps: Dumps, mode: str) -> Callable[[Any], Any]:
    """The per-message encoding function for ``dumps`` and ``mode``."""
    to_text = mode == "text"
    serialize = _DEFAULT_ENCODE if dumps is json.dumps else dumps

    def encode(value: Any) -> Any:
        if value.__class__ is dict:
            kind = value.get("type")
            if kind.__class__ is str and kind.startswith("websocket."):
                return value  # ws_send(...), ws_close(...): passed through untouched
        try:
            data: Any = serialize(value)
        except Exception as exc:
            raise InvalidMessageType(
                f"wrap_json expected a value its dumps can encode, got {type(value).__name__} "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        if to_text:
            if data.__class__ is not str:
                data = data.decode("utf-8")  # orjson and msgspec return bytes
        elif data.__class__ is str:
            data = data.encode("utf-8")
        return ws_send(data)

    return encode


def decode_json(frame: Frame, loads: Loads = json.loads, mode: JSONMode = "text") -> Any:
    """The JSON value a client frame carries.

    In text mode the frame must be text; in binary mode it must be binary, and holds UTF-8
    JSON (``loads`` gets the bytes as they came; the default, ``json.loads``, gets them
    decoded strictly). Raises ``InvalidMessage`` for a frame that does not parse or is of
    the other kind; its ``reason`` attribute is the short close reason wrap_json sends.
    """
    _check_mode(mode, "decode_json")
    return _decoder(loads, mode)(frame)


def encode_json(
    value: Any, dumps: Dumps = json.dumps, mode: JSONMode = "text"
) -> WebSocketSendEvent | WebSocketCloseEvent:
    """The message to send for ``value``: a ``ws_send`` of its JSON, as a text frame in text
    mode, a binary frame in binary mode (``dumps`` may return ``str`` or ``bytes``).

    A ws message (a dict whose ``"type"`` starts with ``"websocket."``, such as what
    ``ws_send`` and ``ws_close`` build) is returned as it is. A value ``dumps`` cannot encode
    raises ``InvalidMessageType``.
    """
    _check_mode(mode, "encode_json")
    return _encoder(dumps, mode)(value)  # type: ignore[no-any-return]


def _configured(mode: str, loads: Loads, dumps: Dumps) -> Middleware:
    _check_mode(mode, "wrap_json")
    for name, function in (("loads", loads), ("dumps", dumps)):
        if not callable(function):
            raise ConfigTypeError(
                f"wrap_json expected a callable {name}, got {type(function).__name__}"
            )
    decode = _decoder(loads, mode)
    encode = _encoder(dumps, mode)

    def wrap(handler: HandlerFunction) -> HandlerFunction:
        async def wrapped(scope: Scope, receiver: FrameSource[Any]) -> AsyncGenerator[Any, None]:
            async with relay(handler, scope, MappedReceiver(receiver, decode)) as values:
                try:
                    async for value in values:
                        yield encode(value)
                except _BadFrame as exc:  # not caught here while the handler is being closed
                    logger.debug("wrap_json closing with 1007: %s", exc)
                    yield ws_close(1007, exc.reason)

        return wrapped

    return middleware(wrap)


@overload
def wrap_json(
    handler: HandlerFunction,
    /,
    *,
    mode: JSONMode = "text",
    loads: Loads = json.loads,
    dumps: Dumps = json.dumps,
) -> HandlerFunction: ...


@overload
def wrap_json(
    handler: None = None,
    /,
    *,
    mode: JSONMode = "text",
    loads: Loads = json.loads,
    dumps: Dumps = json.dumps,
) -> Middleware: ...


def wrap_json(
    handler: HandlerFunction | None = None,
    /,
    *,
    mode: JSONMode = "text",
    loads: Loads = json.loads,
    dumps: Dumps = json.dumps,
) -> HandlerFunction | Middleware:
    """JSON in and out: the handler reads parsed values and yields values to send as JSON.

    ``wrap_json`` is a middleware itself (``compose(wrap_json)(handler)``, or
    ``wrap_json(handler)``); ``wrap_json(mode="binary", loads=..., dumps=...)`` returns one
    configured. ``mode="text"`` (the default) reads and sends text frames, ``"binary"``
    binary frames of UTF-8 JSON. Messages built by ``ws_send`` and ``ws_close`` pass through
    untouched. A frame that is not valid JSON, or of the other kind, raises
    ``InvalidMessage`` where the handler reads; left uncaught, it closes the connection with
    1007 ("invalid JSON", "expected a text frame" or "expected a binary frame").
    """
    configured = _configured(mode, loads, dumps)
    if handler is None:
        return configured
    return configured(handler)
