"""Testing helpers: an in-memory client (``connect``); strategies in ``.strategies``."""

from __future__ import annotations

from ..errors import AppClosed, ASGIViolation, HandshakeRefused, TestingError, WSTimeout
from .client import WSTestConnection, connect
from .clock import VirtualClock, virtual_time

__all__ = [
    "ASGIViolation",
    "AppClosed",
    "HandshakeRefused",
    "TestingError",
    "VirtualClock",
    "WSTestConnection",
    "WSTimeout",
    "connect",
    "virtual_time",
]
