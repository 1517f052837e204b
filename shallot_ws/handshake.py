"""The handshake: what ``on_connect`` returned, turned into the messages that accept or refuse.

``decide`` and ``refusal`` are pure; ``handshake`` runs ``on_connect`` and returns their
result, which the driver sends. A refused connection never reaches the handler.
"""

from __future__ import annotations

from .errors import InvalidMessage, SubprotocolError
from .reporting import report
from .signatures import callable_name
from .types import Hook, Message, Scope

__all__ = ["DENIAL_EXTENSION", "decide", "handshake", "refusal"]

DENIAL_EXTENSION = "websocket.http.response"


_ACCEPT: list[Message] = [{"type": "websocket.accept"}]


async def handshake(hook: Hook | None, scope: Scope) -> list[Message]:
    """The messages that answer the handshake as ``on_connect`` decides: an accept (one
    message) or a refusal. Sending them is the driver's: an accept starts the connection."""
    if hook is None:
        return _ACCEPT
    name = callable_name(hook)
    try:
        decision = await hook(scope)
    except Exception as exc:
        report(scope, exc, "on_connect hook %s raised; refusing the connection", name)
        return refusal(scope, 500)
    try:
        return decide(decision, scope, name)
    except Exception as exc:  # it returned something that is not a decision
        report(scope, exc, "on_connect hook %s returned a bad value; refusing the connection", name)
        return refusal(scope, 500)


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
