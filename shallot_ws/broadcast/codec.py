"""How a message crosses a broker: one tagged byte string, so a subscriber in another process
gets back the kind of value that was published (``str``, ``bytes``, or JSON data)."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidMessage, InvalidMessageType

__all__ = ["decode", "encode"]

_TEXT, _BYTES, _JSON = b"s", b"b", b"j"


def encode(message: Any) -> bytes:
    """``message`` as the bytes a broker carries: a kind tag, then the payload."""
    if isinstance(message, str):  # any str, lone surrogates too (JSON can carry them)
        return _TEXT + message.encode("utf-8", "surrogatepass")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return _BYTES + bytes(message)
    try:
        payload = json.dumps(message, separators=(",", ":"), allow_nan=False)
        _str_keys(message)
    except (TypeError, ValueError) as error:
        raise InvalidMessageType(
            "publish expected a str, bytes or JSON-serializable message for a broker, "
            f"got {type(message).__name__} ({error})"
        ) from None
    return _JSON + payload.encode()


def _str_keys(message: Any) -> None:
    """JSON turns every dict key into a str (``{1: "a"}`` would come back as ``{"1": "a"}``):
    such a message is refused, so that what a subscriber gets equals what was published.
    Called once ``json.dumps`` accepted ``message``, so it holds no cycle."""
    stack = [message]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    raise TypeError(f"dict keys must be str, got {type(key).__name__}")
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)


def decode(payload: bytes) -> Any:
    """The message ``encode`` made ``payload`` from."""
    tag, body = payload[:1], payload[1:]
    if tag == _TEXT:
        return body.decode("utf-8", "surrogatepass")
    if tag == _BYTES:
        return body
    if tag == _JSON:
        return json.loads(body)
    raise InvalidMessage(
        f"a broker message must start with b's', b'b' or b'j' (shallot_ws's tags), "
        f"got {payload[:16]!r}"
    )
