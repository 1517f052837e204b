"""Validating configuration values: one place, one wording.

Pure: no event loop, no I/O. Every option that is a duration goes through ``seconds``, so
``nan``, ``inf``, ``True`` and negative values are refused the same way everywhere. A
websocket app's options are one frozen ``AppOptions``, validated when it is made.
"""

from __future__ import annotations

import dataclasses
import math

from .errors import ConfigError, ConfigTypeError
from .lifespan import Lifespan, check_lifespan
from .messages import close_message
from .signatures import check_hook
from .types import Hook, Message

__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_MAX_BUFFERED",
    "DEFAULT_SHUTDOWN_CLOSE",
    "DEFAULT_STALL_TIMEOUT",
    "AppOptions",
    "count",
    "optional_seconds",
    "seconds",
]

DEFAULT_MAX_BUFFERED = 16
DEFAULT_DRAIN_TIMEOUT = 0.5
DEFAULT_STALL_TIMEOUT: float | None = None  # off: no default drops a frame
# The close at server shutdown: 1012 "service restart" tells a client to come back (RFC 6455
# registry: the service is restarted; a reconnecting client retries, elsewhere or later).
DEFAULT_SHUTDOWN_CLOSE = (1012, "service restart")


def seconds(value: object, name: str, *, zero: bool = False) -> float:
    """``value`` as a finite number of seconds, positive (or ``>= 0`` with ``zero``).

    Raises ``ConfigTypeError`` for a value that is not a real number (``bool`` included) and
    ``ConfigError`` for ``nan``, an infinity or a value out of range; the text names ``name``.
    """
    kind = "a non-negative" if zero else "a positive"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigTypeError(f"{name} expected {kind} number of seconds, got {value!r}")
    number = float(value)
    if math.isnan(number) or math.isinf(number) or number < 0 or (number == 0 and not zero):
        raise ConfigError(f"{name} expected {kind} number of seconds, got {value!r}")
    return number


def optional_seconds(value: object, name: str, *, zero: bool = False) -> float | None:
    """Like ``seconds``, but ``None`` (the option off) is accepted and returned."""
    if value is None:
        return None
    kind = "a non-negative" if zero else "a positive"
    try:
        return seconds(value, name, zero=zero)
    except ConfigTypeError:
        raise ConfigTypeError(
            f"{name} expected {kind} number of seconds or None, got {value!r}"
        ) from None
    except ConfigError:
        raise ConfigError(
            f"{name} expected {kind} number of seconds or None, got {value!r}"
        ) from None


def count(value: object, expected: str, *, minimum: int = 1) -> int:
    """``value`` as an ``int`` of at least ``minimum``; ``expected`` opens the error text
    (``"subscribe expected a positive int buffer"``), which ends with ``, got <value>``.

    Raises ``ConfigTypeError`` for a value that is not an ``int`` (``bool`` included) and
    ``ConfigError`` for one below ``minimum``.
    """
    if type(value) is not int:
        raise ConfigTypeError(f"{expected}, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{expected}, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class AppOptions:
    """A websocket app's options besides its handler, checked once, when they are made.

    ``max_buffered`` bounds the frames read ahead of the handler; ``drain_timeout`` is how
    long a handler may run on after its client left before it is cancelled; ``stall_timeout``
    (``None``: off) opts in to dropping frames for a handler that never reads; the hooks run
    as docs/handlers.md says; ``lifespan(app)`` is entered at startup; ``shutdown_code``
    and ``shutdown_reason`` are the close sent when the server shuts down (1012 "service
    restart": come back). A bad value raises
    ``ConfigError`` (or ``ConfigTypeError``) naming the option, a bad hook ``InvalidHandler``.
    """

    on_connect: Hook | None = None
    on_disconnect: Hook | None = None
    on_close: Hook | None = None
    max_buffered: int = DEFAULT_MAX_BUFFERED
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT
    stall_timeout: float | None = DEFAULT_STALL_TIMEOUT
    lifespan: Lifespan | None = None
    shutdown_code: int = DEFAULT_SHUTDOWN_CLOSE[0]
    shutdown_reason: str = DEFAULT_SHUTDOWN_CLOSE[1]
    owner: str = dataclasses.field(default="websocket app", repr=False, compare=False)
    """How errors name the app these options belong to (``"websocket app echo"``)."""

    def __post_init__(self) -> None:
        for role in ("on_connect", "on_disconnect", "on_close"):
            hook = getattr(self, role)
            if hook is not None:
                check_hook(hook, role)
        if self.lifespan is not None:
            check_lifespan(self.lifespan, self.owner)
        count(self.max_buffered, "max_buffered expected a positive int")
        close_message(self.shutdown_code, self.shutdown_reason, "shutdown_code")
        # the durations as floats: frozen, so set through object's own __setattr__
        drain = seconds(self.drain_timeout, "drain_timeout", zero=True)
        object.__setattr__(self, "drain_timeout", drain)
        object.__setattr__(
            self, "stall_timeout", optional_seconds(self.stall_timeout, "stall_timeout")
        )

    @property
    def shutdown_close(self) -> Message:
        """The close message sent when the server shuts the connection down."""
        return {
            "type": "websocket.close",
            "code": self.shutdown_code,
            "reason": self.shutdown_reason,
        }

    def replace(self, **changes: object) -> AppOptions:
        """These options with some changed (checked again); an unknown name is a
        ``TypeError`` naming the known ones."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"expected some of {sorted(known)}, got {sorted(unknown)}")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
