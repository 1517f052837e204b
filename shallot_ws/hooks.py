"""Hooks: running the closing ones safely, each after the other.

A closing hook (``on_disconnect``, ``on_close``) that raises is logged and does not stop the
others; a cancellation while one runs is held and re-raised after the rest have run.
"""

from __future__ import annotations

import asyncio

from .reporting import report
from .signatures import callable_name
from .types import Hook, Scope

__all__ = ["in_turn", "run_closing_hook", "run_closing_hooks"]


async def run_closing_hook(hook: Hook, role: str, scope: Scope) -> BaseException | None:
    """Run a closing hook; log what it raises. Returns a cancellation to re-raise later."""
    try:
        await hook(scope)
    except asyncio.CancelledError as exc:
        return exc
    except Exception as exc:
        report(scope, exc, "%s hook %s raised", role, callable_name(hook))
    return None


async def run_closing_hooks(
    on_disconnect: Hook | None, on_close: Hook | None, left: bool, scope: Scope
) -> BaseException | None:
    """``on_disconnect`` (if the client ``left``), then ``on_close``, each logged alone if it
    raises; a cancellation while they ran is returned, to be raised once both did."""
    cancelled = None
    if left and on_disconnect is not None:
        cancelled = await run_closing_hook(on_disconnect, "on_disconnect", scope)
    if on_close is not None:
        cancelled = await run_closing_hook(on_close, "on_close", scope) or cancelled
    return cancelled


def in_turn(role: str, first: Hook, then: Hook) -> Hook:
    """One closing hook running ``first`` then ``then``; each one's error is logged alone."""

    async def hook(scope: Scope) -> None:
        cancelled = await run_closing_hook(first, role, scope)
        cancelled = await run_closing_hook(then, role, scope) or cancelled
        if cancelled is not None:
            raise cancelled

    hook.__qualname__ = f"{callable_name(first)}, then {callable_name(then)}"
    return hook
