"""Handshake guards: decisions made before the accept, composable in order.

A guard has exactly ``on_connect``'s protocol: ``async def guard(scope)`` returns

* ``None`` to let the connection through to the next guard (it may enrich ``scope``, e.g.
  put the authenticated identity into ``scope["user"]``);
* ``ws_accept(subprotocol=..., headers=...)`` to let it through and contribute a
  subprotocol or response headers to the accept;
* ``ws_close()`` or ``ws_deny(status, body, headers)`` to refuse it: later guards do not run.

``guarded(g1, g2, ...)`` chains guards into one ``on_connect`` hook, so any ``on_connect``
is a guard too. A guard that raises refuses the connection (HTTP 500 where the server can
send it) and is logged, like any ``on_connect`` that raises: it never accepts.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidMessage
from ..signatures import callable_name, check_hook
from ..types import Hook, Message, Scope

__all__ = ["guarded"]


def _merge(accept: Message, extra: Message, name: str) -> None:
    """Fold a guard's ``ws_accept(...)`` into the accept built so far."""
    subprotocol = extra.get("subprotocol")
    if subprotocol is not None:
        chosen = accept.get("subprotocol")
        if chosen is not None and chosen != subprotocol:
            raise InvalidMessage(
                f"guard {name} chose subprotocol {subprotocol!r}, "
                f"but an earlier guard chose {chosen!r}"
            )
        accept["subprotocol"] = subprotocol
    if extra.get("headers"):
        accept["headers"] = [*accept.get("headers", []), *extra["headers"]]


def guarded(*guards: Hook) -> Hook:
    """One ``on_connect`` hook that runs ``guards`` in order until one refuses."""
    for guard in guards:
        check_hook(guard, "guard")

    async def on_connect(scope: Scope) -> Any:
        accept: Message = {"type": "websocket.accept"}
        for guard in guards:
            decision = await guard(scope)
            if decision is None:
                continue
            if isinstance(decision, dict) and decision.get("type") == "websocket.accept":
                _merge(accept, decision, callable_name(guard))
                continue
            return decision  # a refusal, or something the handshake reports as invalid
        return accept if len(accept) > 1 else None

    on_connect.guards = guards  # type: ignore[attr-defined]
    on_connect.__qualname__ = f"guarded({', '.join(callable_name(g) for g in guards)})"
    return on_connect
