"""Decoration-time checks of handlers and hooks: pure inspection, so a wrong handler fails at
import time with a message naming it, never at its first connection."""

from __future__ import annotations

import inspect
from typing import Any

from .errors import InvalidHandler

__all__ = ["callable_name", "check_handler", "check_hook", "describe"]


def callable_name(func: object) -> str:
    """A readable name for a handler or hook, for error messages and logs."""
    inner = getattr(func, "func", func)  # functools.partial
    name = getattr(inner, "__qualname__", None) or getattr(inner, "__name__", None)
    return str(name) if name else repr(func)


def describe(func: object) -> str:
    """What kind of thing ``func`` is, for error messages."""
    if inspect.isgeneratorfunction(func):
        return "a plain (sync) generator function"
    if inspect.isfunction(func) or inspect.ismethod(func):
        return "a plain (sync) function"
    if callable(func):
        return f"a {type(func).__name__} object"
    return f"{func!r}"


def _check_arity(func: Any, count: int, names: str, role: str) -> None:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without signature: accept
        return
    try:
        signature.bind(*([None] * count))
    except TypeError:
        raise InvalidHandler(
            f"{role} {callable_name(func)} must take ({names}), its signature is {signature}"
        ) from None


def check_handler(handler: object) -> bool:
    """Check that ``handler`` is an async generator or coroutine function of ``(scope, receiver)``.

    Returns ``True`` for an async generator function, ``False`` for a coroutine function.
    """
    is_generator = inspect.isasyncgenfunction(handler)
    if not is_generator and not inspect.iscoroutinefunction(handler):
        raise InvalidHandler(
            f"handler {callable_name(handler)} must be an async generator function "
            f"(async def with yield) or a coroutine function, got {describe(handler)}"
        )
    _check_arity(handler, 2, "scope, receiver", "handler")
    return is_generator


def check_hook(hook: object, role: str) -> None:
    """Check that ``hook`` (``on_connect``, ...) is an async callable taking ``scope``."""
    is_async = inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(
        getattr(hook, "__call__", None)  # noqa: B004 - async callable objects are accepted
    )
    if not is_async:
        raise InvalidHandler(
            f"{role} hook {callable_name(hook)} must be an async function taking scope, "
            f"got {describe(hook)}"
        )
    _check_arity(hook, 1, "scope", f"{role} hook")
