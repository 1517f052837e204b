"""shallot_ws: WebSocket handlers as plain data, on a correct and fast ASGI driver."""

from __future__ import annotations

from .app import WebSocketApp, websocket
from .broadcast import Broadcast
from .compose import MappedReceiver, compose, relay
from .errors import (
    BroadcastError,
    ConfigError,
    ConfigTypeError,
    InvalidHandler,
    InvalidMessage,
    InvalidMessageType,
    LifecycleError,
    ProtocolError,
    ReceiverBusy,
    RouteError,
    ShallotWSError,
    SubprotocolError,
    WSDisconnect,
)
from .guards import allow_origins, bearer_auth, guarded, select_subprotocol
from .merge import every, merge
from .messages import ws_accept, ws_close, ws_deny, ws_send
from .middlewares import (
    wrap_errors,
    wrap_heartbeat,
    wrap_idle_timeout,
    wrap_json,
    wrap_limits,
    wrap_logging,
    wrap_resource,
)
from .receiver import Receiver
from .routing import Router, mount, route, router
from .scope import MultiDict

__all__ = [
    "Broadcast",
    "BroadcastError",
    "ConfigError",
    "ConfigTypeError",
    "InvalidHandler",
    "InvalidMessage",
    "InvalidMessageType",
    "MappedReceiver",
    "MultiDict",
    "ProtocolError",
    "LifecycleError",
    "ReceiverBusy",
    "Receiver",
    "RouteError",
    "Router",
    "ShallotWSError",
    "SubprotocolError",
    "WSDisconnect",
    "WebSocketApp",
    "allow_origins",
    "bearer_auth",
    "compose",
    "every",
    "guarded",
    "merge",
    "mount",
    "relay",
    "route",
    "router",
    "select_subprotocol",
    "websocket",
    "wrap_errors",
    "wrap_heartbeat",
    "wrap_idle_timeout",
    "wrap_json",
    "wrap_limits",
    "wrap_logging",
    "wrap_resource",
    "ws_accept",
    "ws_close",
    "ws_deny",
    "ws_send",
]
