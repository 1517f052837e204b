"""Decoration-time checks: a wrong handler or hook fails at import time, naming itself."""

from __future__ import annotations

import functools

import pytest

from shallot_ws import ConfigError, ConfigTypeError, InvalidHandler, websocket, ws_send


async def good(scope, receiver):
    yield ws_send("x")


def test_a_plain_function_is_refused_with_its_name():
    def plain(scope, receiver):
        return None

    with pytest.raises(TypeError) as info:
        websocket(plain)
    assert str(info.value) == (
        "handler test_a_plain_function_is_refused_with_its_name.<locals>.plain must be an async "
        "generator function (async def with yield) or a coroutine function, "
        "got a plain (sync) function"
    )
    assert isinstance(info.value, InvalidHandler)


def test_a_sync_generator_is_refused():
    def gen(scope, receiver):
        yield ws_send("x")

    with pytest.raises(InvalidHandler, match="got a plain \\(sync\\) generator function$"):
        websocket(gen)


def test_a_handler_with_the_wrong_signature_is_refused():
    async def one(scope):
        yield ws_send("x")

    with pytest.raises(InvalidHandler) as info:
        websocket(one)
    assert str(info.value).endswith("must take (scope, receiver), its signature is (scope)")

    async def three(scope, receiver, extra):
        yield ws_send("x")

    with pytest.raises(InvalidHandler, match=r"its signature is \(scope, receiver, extra\)$"):
        websocket(three)


def test_defaults_partials_and_coroutines_are_accepted():
    async def extra(scope, receiver, greeting="hi"):
        yield ws_send(greeting)

    async def coro(scope, receiver):
        return ws_send("x")

    async def three(scope, receiver, name):
        yield ws_send(name)

    websocket(extra)
    websocket(coro)
    app = websocket(functools.partial(three, name="x"))
    assert app.handler.func is three


@pytest.mark.parametrize("role", ["on_connect", "on_disconnect", "on_close"])
def test_hooks_must_be_async_callables_of_scope(role):
    def sync_hook(scope):
        return None

    with pytest.raises(InvalidHandler) as info:
        websocket(**{role: sync_hook})(good)
    assert str(info.value) == (
        f"{role} hook test_hooks_must_be_async_callables_of_scope.<locals>.sync_hook must be an "
        "async function taking scope, got a plain (sync) function"
    )

    async def no_args():
        return None

    with pytest.raises(
        InvalidHandler, match=rf"^{role} hook .*no_args must take \(scope\), its signature is \(\)$"
    ):
        websocket(**{role: no_args})(good)


def test_async_callable_objects_are_accepted_as_hooks():
    class Hook:
        async def __call__(self, scope):
            return None

    app = websocket(on_close=Hook())(good)
    assert isinstance(app.on_close, Hook)


def test_limits_are_checked():
    with pytest.raises(ConfigError, match="^max_buffered expected a positive int, got 0$"):
        websocket(max_buffered=0)(good)
    with pytest.raises(ConfigTypeError, match="^max_buffered expected a positive int, got True$"):
        websocket(max_buffered=True)(good)
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="^drain_timeout expected a non-negative number"):
            websocket(drain_timeout=bad)(good)
        with pytest.raises(ConfigError, match="^stall_timeout expected a positive number"):
            websocket(stall_timeout=bad)(good)
    with pytest.raises(ConfigTypeError, match="^drain_timeout expected a non-negative number"):
        websocket(drain_timeout=True)(good)
    assert websocket(good).stall_timeout is None  # off by default: nothing is ever dropped
