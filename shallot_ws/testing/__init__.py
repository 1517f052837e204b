"""Testing helpers: an in-memory client (``connect``); strategies in ``.strategies``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import (
    AppClosed,
    ASGIViolation,
    FlowError,
    HandshakeRefused,
    TestingError,
    WSTimeout,
)
from .client import WSTestConnection, connect
from .clock import VirtualClock, virtual_time
from .flows import Disconnect, Drop, Receive, Send, Sleep, Transcript, run_flow
from .server import (
    DISCONNECT_1006,
    SEND_AFTER_CLOSE_IGNORED,
    SEND_AFTER_CLOSE_OSERROR,
    SEND_AFTER_DISCONNECT_OSERROR,
)

if TYPE_CHECKING:  # imported on first use: it needs hypothesis, the rest does not
    from .machine import WebSocketMachine

__all__ = [
    "ASGIViolation",
    "AppClosed",
    "DISCONNECT_1006",
    "Disconnect",
    "Drop",
    "FlowError",
    "HandshakeRefused",
    "Receive",
    "SEND_AFTER_CLOSE_IGNORED",
    "SEND_AFTER_CLOSE_OSERROR",
    "SEND_AFTER_DISCONNECT_OSERROR",
    "Send",
    "Sleep",
    "TestingError",
    "Transcript",
    "VirtualClock",
    "WSTestConnection",
    "WSTimeout",
    "WebSocketMachine",
    "connect",
    "run_flow",
    "virtual_time",
]


def __getattr__(name: str) -> Any:
    if name == "WebSocketMachine":
        from .machine import WebSocketMachine

        return WebSocketMachine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
