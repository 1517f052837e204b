"""A route's or mount's hooks and guards, put around a ``WebSocketApp``'s own when the
routing table is built: the entry's guards and ``on_connect`` run as one ``guarded`` chain
before the app's ``on_connect``; the app's closing hooks run before the entry's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .app import WebSocketApp
from .errors import ConfigTypeError, InvalidHandler
from .guards.chain import guarded
from .hooks import in_turn
from .signatures import callable_name, check_hook
from .types import Hook

__all__ = ["hooks_around"]


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
