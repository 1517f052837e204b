"""The exceptions of shallot_ws, in one hierarchy::

    ShallotWSError
     ├── WSDisconnect            the client left; carries its close code and reason
     ├── ConfigError             a configuration mistake: an option, URL, channel, origin, ...
     │    ├── ConfigTypeError    ... whose value has the wrong type
     │    └── RouteError         ... in a routing table: a bad pattern, name or entry
     ├── InvalidHandler          a handler or hook is not one (wrong kind or signature)
     ├── InvalidMessage          a message or builder argument has a wrong value
     │    └── InvalidMessageType a message or builder argument has a wrong type
     ├── SubprotocolError        an accept names a subprotocol the client did not offer
     ├── UrlForError             url_for cannot build the path: an unknown name, a bad parameter
     ├── BroadcastError          a broadcast's broker is unreachable, or the broadcast is closed
     ├── ProtocolError           the ASGI server broke the contract (event or scope)
     ├── ReceiverBusy            a second task awaits a receiver another task is reading
 ├── LifecycleError          the driver met an event its phase cannot meet (a bug: report it)
     └── TestingError            an in-memory test connection saw what the test did not expect
          ├── WSTimeout          the app did not answer within the test's timeout
          ├── AppClosed          the app closed the connection; carries its code and reason
          ├── HandshakeRefused   the app refused the handshake; carries the HTTP response
          ├── ASGIViolation      the app broke the ASGI WebSocket protocol
          └── FlowError          a step of a client flow could not be done; carries the transcript

``ConfigError`` (and so ``RouteError``) is also a ``ValueError``, ``ConfigTypeError`` a
``TypeError`` too. ``InvalidHandler`` and ``InvalidMessageType`` are also ``TypeError``s;
``InvalidMessage``, ``SubprotocolError`` and ``UrlForError`` also ``ValueError``s,
``BroadcastError`` a ``ConnectionError``, so callers may catch either family. The testing
errors are ``AssertionError``s: a test that meets one unexpectedly fails, as it should.
"""

from __future__ import annotations

__all__ = [
    "BroadcastError",
    "ConfigError",
    "ConfigTypeError",
    "InvalidHandler",
    "InvalidMessage",
    "InvalidMessageType",
    "LifecycleError",
    "ProtocolError",
    "ReceiverBusy",
    "RouteError",
    "ASGIViolation",
    "AppClosed",
    "FlowError",
    "HandshakeRefused",
    "ShallotWSError",
    "SubprotocolError",
    "TestingError",
    "UrlForError",
    "WSDisconnect",
    "WSTimeout",
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


class ConfigError(ShallotWSError, ValueError):
    """A configuration mistake, found when the app is built: an option value, a URL, a
    pattern, an origin. The text names the option, what was expected and what came."""


class ConfigTypeError(ConfigError, TypeError):
    """A configuration value of the wrong type (a ``str`` where seconds were expected)."""


class InvalidHandler(ShallotWSError, TypeError):
    """A handler or hook given to ``websocket`` cannot be used (wrong kind or signature)."""


class InvalidMessage(ShallotWSError, ValueError):
    """A message, or an argument of a message builder, has a value outside what is allowed."""


class InvalidMessageType(InvalidMessage, TypeError):
    """A message, or an argument of a message builder, has the wrong type."""


class SubprotocolError(ShallotWSError, ValueError):
    """An accept names a subprotocol that the client did not offer."""


class BroadcastError(ShallotWSError, ConnectionError):
    """A broadcast backend could not do what was asked: its broker is unreachable, or the
    broadcast is closed. Nothing was published (or subscribed) when this is raised."""


class RouteError(ConfigError):
    """A routing table is wrong: a bad pattern, a name or pattern used twice, an entry that is
    not one. Raised when the table is built."""


class UrlForError(ShallotWSError, ValueError):
    """``url_for`` cannot build the path: no route has that name, or a parameter is missing,
    unexpected, or has a value its converter cannot write. Raised per call, not at build time."""


class ProtocolError(ShallotWSError, RuntimeError):
    """The ASGI server sent an event or scope that the ASGI specification does not allow here."""


class ReceiverBusy(ShallotWSError, RuntimeError):
    """A task awaited ``receiver.receive()`` while another task was already waiting on the
    same receiver: one reader at a time, so no frame goes to a reader that did not expect it
    and no reader waits for ever."""


class LifecycleError(ShallotWSError, RuntimeError):
    """The driver met an event that its connection's phase cannot meet (lifecycle.TABLE has
    no such pair). Never expected: it is a bug in shallot_ws, please report it."""


class TestingError(ShallotWSError, AssertionError):
    """An in-memory test connection saw something other than what the test waited for."""

    __test__ = False  # not a pytest test class


class WSTimeout(TestingError):
    """The app did not do what the test waited for within the timeout."""


class AppClosed(TestingError):
    """The app closed the connection (or its task ended) while the test expected a message."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        suffix = f" ({self.reason})" if self.reason else ""
        return f"the app closed the connection with code {self.code}{suffix}"


class HandshakeRefused(TestingError):
    """The app refused the handshake; ``status``, ``headers`` and ``body`` of its answer."""

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b""
    ) -> None:
        super().__init__(status, headers, body)
        self.status = status
        self.headers = headers or []
        self.body = body

    def __str__(self) -> str:
        return f"the app refused the handshake with HTTP {self.status}"


class ASGIViolation(TestingError):
    """The app sent a message the ASGI WebSocket protocol does not allow in that state."""


class FlowError(TestingError):
    """A step of a client flow (``run_flow``) could not be done: ``text`` says which step and
    what it waited for, ``transcript`` holds the whole connection (it was ended first)."""

    def __init__(self, text: str, transcript: object = None) -> None:
        super().__init__(text, transcript)
        self.text = text
        self.transcript = transcript

    def __str__(self) -> str:
        if self.transcript is None:
            return self.text
        return f"{self.text}\n{self.transcript}"
