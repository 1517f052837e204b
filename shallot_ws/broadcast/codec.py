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
    if isinstance(message, str):
        return _TEXT + message.encode()
    if isinstance(message, (bytes, bytearray, memoryview)):
        return _BYTES + bytes(message)
    try:
        return _JSON + json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise InvalidMessageType(
            "publish expected a str, bytes or JSON-serializable message for a broker, "
            f"got {type(message).__name__} ({error})"
        ) from None


def decode(payload: bytes) -> Any:
    """The message ``encode`` made ``payload`` from."""
    tag, body = payload[:1], payload[1:]
    if tag == _TEXT:
        return body.decode()
    if tag == _BYTES:
        return body
    if tag == _JSON:
        return json.loads(body)
    raise InvalidMessage(
        f"a broker message must start with b's', b'b' or b'j' (shallot_ws's tags), "
        f"got {payload[:16]!r}"
    )
