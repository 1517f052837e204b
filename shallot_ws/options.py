"""Validating configuration values: one place, one wording.

Pure: no event loop, no I/O. Every option that is a duration goes through ``seconds``, so
``nan``, ``inf``, ``True`` and negative values are refused the same way everywhere.
"""

from __future__ import annotations

import math

from .errors import ConfigError, ConfigTypeError

__all__ = ["count", "optional_seconds", "seconds"]


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
