"""Testing helpers: an in-memory client (``connect``); strategies in ``.strategies``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import AppClosed, ASGIViolation, HandshakeRefused, TestingError, WSTimeout
from .client import WSTestConnection, connect
from .clock import VirtualClock, virtual_time

if TYPE_CHECKING:  # imported on first use: it needs hypothesis, the rest does not
    from .machine import WebSocketMachine

__all__ = [
    "ASGIViolation",
    "AppClosed",
    "HandshakeRefused",
    "TestingError",
    "VirtualClock",
    "WSTestConnection",
    "WSTimeout",
    "WebSocketMachine",
    "connect",
    "virtual_time",
]


def __getattr__(name: str) -> Any:
    if name == "WebSocketMachine":
        from .machine import WebSocketMachine

        return WebSocketMachine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
