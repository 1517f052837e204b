"""The handshake: what ``on_connect`` returned, turned into the messages that accept or refuse.

``decide`` and ``refusal`` are pure; ``handshake`` sends their result. A refused connection
never reaches the handler.
"""

from __future__ import annotations

from .errors import InvalidMessage, SubprotocolError
from .reporting import report
from .signatures import callable_name
from .types import Hook, Message, Scope, Send

__all__ = ["DENIAL_EXTENSION", "decide", "handshake", "refusal"]

DENIAL_EXTENSION = "websocket.http.response"


async def handshake(hook: Hook | None, scope: Scope, send: Send) -> bool:
    """Accept or refuse the connection as ``on_connect`` decides; True when accepted."""
    if hook is None:
        await send({"type": "websocket.accept"})
        return True
    name = callable_name(hook)
    try:
        decision = await hook(scope)
    except Exception as exc:
        report(scope, exc, "on_connect hook %s raised; refusing the connection", name)
        messages = refusal(scope, 500)
    else:
        try:
            messages = decide(decision, scope, name)
        except Exception as exc:  # it returned something that is not a decision
            report(
                scope, exc, "on_connect hook %s returned a bad value; refusing the connection", name
            )
            messages = refusal(scope, 500)
    for message in messages:
        await send(message)
    return bool(messages[0]["type"] == "websocket.accept")


def refusal(scope: Scope, status: int) -> list[Message]:
    """The messages that refuse a handshake with ``status``, or 403 without the extension."""
    if DENIAL_EXTENSION in (scope.get("extensions") or {}):
        return [
            {"type": "websocket.http.response.start", "status": status, "headers": []},
            {"type": "websocket.http.response.body", "body": b"", "more_body": False},
        ]
    return [{"type": "websocket.close", "code": 1000, "reason": ""}]


def decide(result: object, scope: Scope, name: str) -> list[Message]:
    """The messages that carry out what ``on_connect`` returned."""
    if result is None:
        return [{"type": "websocket.accept"}]
    if isinstance(result, dict):
        kind = result.get("type")
        if kind == "websocket.accept":
            subprotocol = result.get("subprotocol")
            offered = scope.get("subprotocols") or []
            if subprotocol is not None and subprotocol not in offered:
                raise SubprotocolError(
                    f"on_connect hook {name} accepted subprotocol {subprotocol!r}, "
                    f"which the client did not offer (offered: {list(offered)!r})"
                )
            return [result]
        if kind == "websocket.close":
            return [result]
    if (
        isinstance(result, tuple)
        and len(result) == 2
        and isinstance(result[0], dict)
        and result[0].get("type") == "websocket.http.response.start"
    ):
        if DENIAL_EXTENSION in (scope.get("extensions") or {}):
            return list(result)
        return [{"type": "websocket.close", "code": 1000, "reason": ""}]
    raise InvalidMessage(
        f"on_connect hook {name} returned {result!r}: "
        "expected None, ws_accept(), ws_close() or ws_deny()"
    )
