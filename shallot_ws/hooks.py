"""Hooks: running the closing ones safely, and putting a route's hooks around an app's own.

A closing hook (``on_disconnect``, ``on_close``) that raises is logged and does not stop the
others; a cancellation while one runs is held and re-raised after the rest have run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .errors import ConfigTypeError, InvalidHandler
from .guards.chain import guarded
from .reporting import report
from .signatures import callable_name, check_hook
from .types import Hook, Scope

if TYPE_CHECKING:
    from .app import WebSocketApp

__all__ = ["hooks_around", "in_turn", "run_closing_hook"]


async def run_closing_hook(hook: Hook, role: str, scope: Scope) -> BaseException | None:
    """Run a closing hook; log what it raises. Returns a cancellation to re-raise later."""
    try:
        await hook(scope)
    except asyncio.CancelledError as exc:
        return exc
    except Exception as exc:
        report(scope, exc, "%s hook %s raised", role, callable_name(hook))
    return None


# -- the open connection ----------------------------------------------------------------


def hooks_around(
    where: str,
    guards: Iterable[Hook],
    on_connect: Hook | None,
    on_disconnect: Hook | None,
    on_close: Hook | None,
) -> Callable[[WebSocketApp], WebSocketApp] | None:
    """Check an entry's hooks; the function that puts them around an app's own, if any."""
    if callable(guards) or isinstance(guards, (str, bytes)):
        got = callable_name(guards) if callable(guards) else repr(guards)
        raise ConfigTypeError(f"{where} expected guards as a list of hooks, got {got}")
    guards = tuple(guards)  # an iterator would be used up by the checks
    roles: list[tuple[str, Hook | None]] = [("guard", guard) for guard in guards]
    roles += [("on_connect", on_connect), ("on_disconnect", on_disconnect), ("on_close", on_close)]
    try:
        for role, hook in roles:
            if hook is not None:
                check_hook(hook, role)
    except InvalidHandler as exc:
        raise InvalidHandler(f"{where}: {exc}") from None
    if not any(hook for _, hook in roles):
        return None
    checks = [*guards, *([on_connect] if on_connect is not None else [])]

    def around(app: WebSocketApp) -> WebSocketApp:
        changes: dict[str, Any] = {}
        if checks:  # the entry's checks first, then the app's own on_connect, as one chain
            changes["on_connect"] = guarded(*checks, *filter(None, [app.on_connect]))
        for role, outer in (("on_disconnect", on_disconnect), ("on_close", on_close)):
            if outer is not None:
                inner = getattr(app, role)
                changes[role] = outer if inner is None else in_turn(role, inner, outer)
        return app.replace(**changes)

    return around


def in_turn(role: str, first: Hook, then: Hook) -> Hook:
    """One closing hook running ``first`` then ``then``; each one's error is logged alone."""

    async def hook(scope: Scope) -> None:
        cancelled = await run_closing_hook(first, role, scope)
        cancelled = await run_closing_hook(then, role, scope) or cancelled
        if cancelled is not None:
            raise cancelled

    hook.__qualname__ = f"{callable_name(first)}, then {callable_name(then)}"
    return hook
