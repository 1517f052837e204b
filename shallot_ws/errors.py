"""The exceptions of shallot_ws, in one hierarchy::

    ShallotWSError
     ├── WSDisconnect            the client left; carries its close code and reason
     ├── InvalidHandler          a handler or hook has the wrong shape (decoration time)
     ├── InvalidMessage          a message or builder argument has a wrong value
     │    └── InvalidMessageType a message or builder argument has a wrong type
     ├── SubprotocolError        an accept names a subprotocol the client did not offer
     └── ProtocolError           the ASGI server broke the contract (event or scope)

``InvalidHandler`` and ``InvalidMessageType`` are also ``TypeError``s, ``InvalidMessage`` and
``SubprotocolError`` also ``ValueError``s, so callers may catch either family.
"""

from __future__ import annotations

__all__ = [
    "InvalidHandler",
    "InvalidMessage",
    "InvalidMessageType",
    "ProtocolError",
    "ShallotWSError",
    "SubprotocolError",
    "WSDisconnect",
]


class ShallotWSError(Exception):
    """Base class of every exception shallot_ws raises."""


class WSDisconnect(ShallotWSError):
    """The client has left; raised by ``await receiver.receive()`` once the frames are used up."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        if self.reason:
            return f"client disconnected with code {self.code} ({self.reason})"
        return f"client disconnected with code {self.code}"


class InvalidHandler(ShallotWSError, TypeError):
    """A handler or hook given to ``websocket`` cannot be used (wrong kind or signature)."""


class InvalidMessage(ShallotWSError, ValueError):
    """A message, or an argument of a message builder, has a value outside what is allowed."""


class InvalidMessageType(InvalidMessage, TypeError):
    """A message, or an argument of a message builder, has the wrong type."""


class SubprotocolError(ShallotWSError, ValueError):
    """An accept names a subprotocol that the client did not offer."""


class ProtocolError(ShallotWSError, RuntimeError):
    """The ASGI server sent an event or scope that the ASGI specification does not allow here."""
