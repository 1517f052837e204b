"""options.py: one validator for every duration, one wording for every refusal."""

from __future__ import annotations

import math

import pytest

from shallot_ws.errors import ConfigError, ConfigTypeError
from shallot_ws.options import optional_seconds, seconds


@pytest.mark.parametrize("value", [1, 0.25, 3600])
def test_a_positive_finite_number_is_seconds(value):
    assert seconds(value, "x") == float(value)
    assert type(seconds(value, "x")) is float


def test_zero_only_where_allowed():
    assert seconds(0, "drain_timeout", zero=True) == 0.0
    with pytest.raises(ConfigError, match=r"^x expected a positive number of seconds, got 0$"):
        seconds(0, "x")


@pytest.mark.parametrize("value", [-1, -0.5, math.nan, math.inf, -math.inf])
def test_out_of_range_is_a_config_error_that_is_a_value_error(value):
    with pytest.raises(ConfigError) as info:
        seconds(value, "every", zero=True)
    assert str(info.value) == f"every expected a non-negative number of seconds, got {value!r}"
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, TypeError)


@pytest.mark.parametrize("value", [True, False, "1", None, b"1", [1]])
def test_a_value_that_is_not_a_number_is_a_config_type_error(value):
    with pytest.raises(ConfigTypeError) as info:
        seconds(value, "every")
    assert str(info.value) == f"every expected a positive number of seconds, got {value!r}"
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ConfigError)


def test_optional_seconds_takes_none_and_says_so_when_refusing():
    assert optional_seconds(None, "stall_timeout") is None
    assert optional_seconds(2, "stall_timeout") == 2.0
    with pytest.raises(
        ConfigTypeError,
        match=r"^stall_timeout expected a positive number of seconds or None, got 'x'$",
    ):
        optional_seconds("x", "stall_timeout")
    with pytest.raises(
        ConfigError, match=r"^stall_timeout expected a positive number of seconds or None, got nan$"
    ):
        optional_seconds(math.nan, "stall_timeout")


# -- AppOptions: a websocket app's options, one frozen object checked once ----------------


def test_app_options_have_the_documented_defaults_and_are_frozen():
    import dataclasses

    from shallot_ws.options import AppOptions

    options = AppOptions()
    assert (options.max_buffered, options.drain_timeout, options.stall_timeout) == (16, 0.5, None)
    assert (options.on_connect, options.on_disconnect, options.on_close) == (None, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_buffered = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "error", "text"),
    [
        ({"drain_timeout": math.nan}, ConfigError, "drain_timeout expected a non-negative "),
        ({"drain_timeout": True}, ConfigTypeError, "drain_timeout expected a non-negative "),
        ({"stall_timeout": 0}, ConfigError, "stall_timeout expected a positive number of "),
        ({"max_buffered": 0}, ConfigError, "max_buffered expected a positive int, got 0"),
        ({"max_buffered": 2.0}, ConfigTypeError, "max_buffered expected a positive int, got 2.0"),
    ],
)
def test_app_options_refuse_bad_values_naming_them(changes, error, text):
    from shallot_ws.options import AppOptions

    with pytest.raises(error) as info:
        AppOptions(**changes)
    assert str(info.value).startswith(text)
    with pytest.raises(error):
        AppOptions().replace(**changes)  # checked again when changed


def test_app_options_check_hooks_and_durations_become_floats():
    from shallot_ws.errors import InvalidHandler
    from shallot_ws.options import AppOptions

    def not_async(scope):
        return None

    with pytest.raises(InvalidHandler, match=r"^on_close hook .*not_async must be an async "):
        AppOptions(on_close=not_async)
    options = AppOptions(drain_timeout=2, stall_timeout=3)
    assert (options.drain_timeout, options.stall_timeout) == (2.0, 3.0)
    assert type(options.drain_timeout) is float and type(options.stall_timeout) is float
    with pytest.raises(TypeError, match=r"^expected some of \[.*'drain_timeout'.*\], got \['x'\]$"):
        options.replace(x=1)


def test_the_shutdown_close_is_come_back_by_default_and_checked():
    from shallot_ws.errors import InvalidMessage
    from shallot_ws.options import AppOptions

    assert AppOptions().shutdown_close == {
        "type": "websocket.close",
        "code": 1012,
        "reason": "service restart",
    }
    assert AppOptions(shutdown_code=4000, shutdown_reason="bye").shutdown_close["code"] == 4000
    with pytest.raises(InvalidMessage, match="^shutdown_code expected a close code in"):
        AppOptions(shutdown_code=1006)
