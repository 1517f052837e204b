"""Message builders and validation: pure functions that build ASGI message dicts, no I/O.

Every builder validates its arguments and raises an ``InvalidMessage`` (a ``ValueError``) or
``InvalidMessageType`` (a ``TypeError``) whose text says what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InvalidMessage, InvalidMessageType
from .types import (
    Denial,
    WebSocketAcceptEvent,
    WebSocketCloseEvent,
    WebSocketResponseBodyEvent,
    WebSocketResponseStartEvent,
    WebSocketSendEvent,
)

__all__ = [
    "MAX_REASON_BYTES",
    "SEND_TYPE",
    "Headers",
    "check_close_code",
    "close_message",
    "check_outgoing",
    "encode_headers",
    "is_valid_close_code",
    "ws_accept",
    "ws_close",
    "ws_deny",
    "ws_send",
]

MAX_REASON_BYTES = 123

# The ``type`` object of every message ``ws_send`` builds. The string has a dot, so CPython
# never interns it: a message whose type *is* this object was built, and validated, by
# ``ws_send``, and the driver trusts it after one identity check. Any other message, even an
# equal hand-built one, is validated in full by ``check_outgoing``.
SEND_TYPE = "".join(("websocket", ".send"))

Headers = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]]


def _type_name(value: object) -> str:
    return type(value).__name__


def ws_send(data: str | bytes) -> WebSocketSendEvent:
    """Build a ``websocket.send`` message: a text frame for ``str``, binary for ``bytes``."""
    if isinstance(data, str):
        return {"type": SEND_TYPE, "text": data}  # type: ignore[typeddict-item]
    if isinstance(data, (bytes, bytearray, memoryview)):
        return {"type": SEND_TYPE, "bytes": bytes(data)}  # type: ignore[typeddict-item]
    raise InvalidMessageType(f"ws_send expected str or bytes, got {_type_name(data)}")


def is_valid_close_code(code: int) -> bool:
    """Tell whether an application may send ``code`` in a close frame (RFC 6455, 7.4)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def check_close_code(code: object, where: str = "ws_close") -> int:
    """Return ``code`` (an ``int``, or an ``IntEnum`` such as a library's ``CloseCode``) as a
    plain ``int`` if an application may send it in a close frame, else raise."""
    if not isinstance(code, int) or isinstance(code, bool):
        raise InvalidMessageType(f"{where} expected an int close code, got {_type_name(code)}")
    if not is_valid_close_code(code):
        raise InvalidMessage(
            f"{where} expected a close code in 1000-1003, 1007-1014 or 3000-4999, got {code}"
        )
    return int(code)


def close_message(code: object, reason: object, where: str) -> WebSocketCloseEvent:
    """A checked ``websocket.close`` message; errors name ``where`` (who asked for it)."""
    checked = check_close_code(code, where)
    if not isinstance(reason, str):
        raise InvalidMessageType(f"{where} expected a str reason, got {_type_name(reason)}")
    size = len(reason.encode("utf-8"))
    if size > MAX_REASON_BYTES:
        raise InvalidMessage(
            f"{where} expected a reason of at most {MAX_REASON_BYTES} UTF-8 bytes, got {size}"
        )
    return {"type": "websocket.close", "code": checked, "reason": reason}


def ws_close(code: int = 1000, reason: str = "") -> WebSocketCloseEvent:
    """Build a ``websocket.close`` message; ``reason`` is at most 123 bytes of UTF-8."""
    return close_message(code, reason, "ws_close")


def _to_bytes(value: object, where: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidMessage(f"{where} expected latin-1 text, got {value!r}") from None
    raise InvalidMessageType(f"{where} expected str or bytes, got {_type_name(value)}")


def encode_headers(headers: Headers | None, where: str) -> list[tuple[bytes, bytes]]:
    """Turn a mapping or ``(name, value)`` pairs into ASGI's lowercase ``(bytes, bytes)`` list."""
    if headers is None:
        return []
    pairs: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
    if isinstance(pairs, (str, bytes)):
        raise InvalidMessageType(
            f"{where} expected headers as a mapping or (name, value) pairs, got {_type_name(pairs)}"
        )
    encoded = []
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidMessageType(
                f"{where} expected each header as a (name, value) pair, got {pair!r}"
            )
        name = _to_bytes(pair[0], f"{where} header name").lower()
        encoded.append((name, _to_bytes(pair[1], f"{where} header value")))
    return encoded


def ws_accept(
    subprotocol: str | None = None, headers: Headers | None = None
) -> WebSocketAcceptEvent:
    """Build a ``websocket.accept`` message, optionally choosing a subprotocol and adding headers.

    The subprotocol is given here, never as a ``sec-websocket-protocol`` header; the driver checks
    that the client offered it.
    """
    message: WebSocketAcceptEvent = {"type": "websocket.accept"}
    if subprotocol is not None:
        if not isinstance(subprotocol, str):
            raise InvalidMessageType(
                f"ws_accept expected a str subprotocol, got {_type_name(subprotocol)}"
            )
        if not subprotocol:
            raise InvalidMessage("ws_accept expected a non-empty subprotocol, got ''")
        message["subprotocol"] = subprotocol
    if headers is not None:
        encoded = encode_headers(headers, "ws_accept")
        for name, _ in encoded:
            if name == b"sec-websocket-protocol":
                raise InvalidMessage(
                    "ws_accept expected no sec-websocket-protocol header, pass subprotocol= instead"
                )
        message["headers"] = encoded
    return message


def ws_deny(status: int = 403, body: bytes | str = b"", headers: Headers | None = None) -> Denial:
    """Build the ``websocket.http.response`` pair that refuses a handshake with an HTTP response.

    Where the server lacks the denial-response extension the driver falls back to a plain
    refusal (HTTP 403). A ``str`` body is sent as UTF-8 ``text/plain``.
    """
    if type(status) is not int:
        raise InvalidMessageType(f"ws_deny expected an int status, got {_type_name(status)}")
    if not 400 <= status <= 599:
        raise InvalidMessage(f"ws_deny expected a 4xx or 5xx status, got {status}")
    encoded = encode_headers(headers, "ws_deny")
    if isinstance(body, str):
        body = body.encode("utf-8")
        if not any(name == b"content-type" for name, _ in encoded):
            encoded.append((b"content-type", b"text/plain; charset=utf-8"))
    elif isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, bytes):
        raise InvalidMessageType(f"ws_deny expected a bytes or str body, got {_type_name(body)}")
    start: WebSocketResponseStartEvent = {
        "type": "websocket.http.response.start",
        "status": status,
        "headers": encoded,
    }
    end: WebSocketResponseBodyEvent = {
        "type": "websocket.http.response.body",
        "body": body,
        "more_body": False,
    }
    return (start, end)


def _send_problem(text: object, data: object) -> str:
    """What is wrong with a 'websocket.send' message's payload, naming the key and type."""
    if text is not None and data is not None:
        return "expected 'text' as str or 'bytes' as bytes, not both"
    if text is not None:
        return f"expected 'text' as str, got {type(text).__name__}"
    if data is not None:
        return f"expected 'bytes' as bytes, got {type(data).__name__}"
    return "expected 'text' as str or 'bytes' as bytes, got neither"


def check_outgoing(message: object, source: str) -> Any:
    """Return ``message`` if a handler may send it after the accept, else raise.

    A handler may yield ``websocket.send`` (text ``str`` or bytes ``bytes``) and
    ``websocket.close`` messages. ``source`` names the handler in the error.
    """
    if type(message) is not dict:
        raise InvalidMessageType(
            f"{source} yielded {message!r}: expected a message dict from ws_send() or ws_close()"
        )
    kind = message.get("type")
    if kind == "websocket.send":
        text, data = message.get("text"), message.get("bytes")
        if (isinstance(text, str) and data is None) or (isinstance(data, bytes) and text is None):
            return message
        raise InvalidMessageType(f"{source} yielded {message!r}: {_send_problem(text, data)}")
    if kind == "websocket.close":
        code = message.get("code", 1000)
        if not isinstance(code, int) or isinstance(code, bool) or not is_valid_close_code(code):
            raise InvalidMessage(
                f"{source} yielded {message!r}: expected an int close code in 1000-1003, "
                "1007-1014 or 3000-4999"
            )
        reason = message.get("reason") or ""
        if not isinstance(reason, str) or len(reason.encode("utf-8")) > MAX_REASON_BYTES:
            raise InvalidMessage(
                f"{source} yielded {message!r}: expected a str reason of at most "
                f"{MAX_REASON_BYTES} UTF-8 bytes"
            )
        return message
    raise InvalidMessage(
        f"{source} yielded {message!r}: expected a 'websocket.send' or 'websocket.close' message"
    )
