"""shallot_ws: WebSocket handlers as plain data, on a correct and fast ASGI driver."""

from __future__ import annotations

from .app import WebSocketApp, websocket
from .compose import MappedReceiver, compose, relay
from .errors import (
    InvalidHandler,
    InvalidMessage,
    InvalidMessageType,
    ProtocolError,
    ShallotWSError,
    SubprotocolError,
    WSDisconnect,
)
from .messages import ws_accept, ws_close, ws_deny, ws_send
from .receiver import Receiver

__all__ = [
    "InvalidHandler",
    "InvalidMessage",
    "InvalidMessageType",
    "MappedReceiver",
    "ProtocolError",
    "Receiver",
    "ShallotWSError",
    "SubprotocolError",
    "WSDisconnect",
    "WebSocketApp",
    "compose",
    "relay",
    "websocket",
    "ws_accept",
    "ws_close",
    "ws_deny",
    "ws_send",
]
