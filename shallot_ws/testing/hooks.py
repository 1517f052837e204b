"""Recording which hooks of a websocket app ran, in order, for transcripts and invariants."""

from __future__ import annotations

from typing import Any

from ..app import WebSocketApp
from ..signatures import callable_name
from ..types import Hook, Scope

__all__ = ["HOOK_ROLES", "record_hooks"]

HOOK_ROLES = ("on_connect", "on_disconnect", "on_close")


def _recording(role: str, hook: Hook | None, calls: list[str]) -> Hook:
    async def recorded(scope: Scope) -> Any:
        calls.append(role)
        if hook is not None:
            return await hook(scope)
        return None

    recorded.__qualname__ = callable_name(hook) if hook is not None else role
    return recorded


def record_hooks(app: WebSocketApp) -> tuple[WebSocketApp, list[str]]:
    """A copy of ``app`` whose hooks also append their role to a list (as they start), and
    that list. Roles whose hook the app lacks are recorded too: ``on_close`` runs exactly
    when the driver would run it, so the list shows which hooks *would* have run."""
    calls: list[str] = []
    changes = {role: _recording(role, getattr(app, role), calls) for role in HOOK_ROLES}
    return app.replace(**changes), calls
