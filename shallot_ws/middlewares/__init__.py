"""Stream middlewares: each a function ``handler -> handler``, in a module of its own.

``wrap_json`` and ``wrap_logging`` are middlewares themselves and take options too
(``wrap_json(mode="binary")``); the others are configured first (``wrap_errors({...})``,
``wrap_limits(...)``, ``wrap_idle_timeout(seconds)``, ``wrap_resource(key, factory)``).
Beside each middleware is the pure function that does its transformation.
"""

from __future__ import annotations

from .wrap_errors import close_for, error_closes, wrap_errors
from .wrap_heartbeat import is_json_pong, wrap_heartbeat
from .wrap_idle_timeout import IdleClock, wrap_idle_timeout
from .wrap_json import decode_json, encode_json, wrap_json
from .wrap_limits import LimitCheck, RateWindow, frame_size, wrap_limits
from .wrap_logging import client_text, close_code, wrap_logging
from .wrap_resource import as_context_factory, wrap_resource

__all__ = [
    "IdleClock",
    "LimitCheck",
    "RateWindow",
    "as_context_factory",
    "client_text",
    "close_code",
    "close_for",
    "decode_json",
    "encode_json",
    "error_closes",
    "frame_size",
    "is_json_pong",
    "wrap_errors",
    "wrap_heartbeat",
    "wrap_idle_timeout",
    "wrap_json",
    "wrap_limits",
    "wrap_logging",
    "wrap_resource",
]
