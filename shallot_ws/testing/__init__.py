"""Testing helpers: an in-memory client (``connect``); strategies in ``.strategies``; from a
contract, strategies (``messages``, ``contract_frames``, ``invalid_frames``,
``bad_frames``), a state machine (``ContractMachine``) and a flow check
(``check_sends``)."""

from __future__ import annotations

import importlib
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

if TYPE_CHECKING:  # imported on first use: they need hypothesis, the rest does not
    from .contract_machine import ContractMachine, check_sends
    from .contracts import BadFrame, bad_frames, contract_frames, invalid_frames, messages
    from .machine import WebSocketMachine

__all__ = [
    "ASGIViolation",
    "AppClosed",
    "BadFrame",
    "ContractMachine",
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
    "bad_frames",
    "check_sends",
    "connect",
    "contract_frames",
    "invalid_frames",
    "messages",
    "run_flow",
    "virtual_time",
]


_LAZY = {  # name: the module that defines it, imported on first use
    "WebSocketMachine": "machine",
    "ContractMachine": "contract_machine",
    "check_sends": "contract_machine",
    "BadFrame": "contracts",
    "bad_frames": "contracts",
    "contract_frames": "contracts",
    "invalid_frames": "contracts",
    "messages": "contracts",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
