"""The pytest plugin: the ``ws_client`` fixture, its timeouts, the hang guard, the checks at
teardown, and its registration through the ``pytest11`` entry point.

Most tests run a small test file in pytest itself (``pytester``, in process) and read the
report of each of its tests.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

from shallot_ws import websocket, ws_send
from shallot_ws.testing import virtual_time
from shallot_ws.testing.pytest_plugin import WSClient

pytest_plugins = ["pytester"]

ASYNCIO_AUTO = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

APPS = """
import asyncio

from shallot_ws import websocket, ws_send


@websocket
async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(f"{message} {scope['query_string'].decode()}".strip())


@websocket
async def silent(scope, receiver):
    async for _ in receiver:
        pass
    return
    yield


@websocket
async def leaky(scope, receiver):
    asyncio.create_task(asyncio.sleep(3600))  # never cancelled; its timer keeps it alive
    async for message in receiver:
        yield ws_send(message)


@websocket
async def tidy(scope, receiver):
    helper = asyncio.create_task(asyncio.sleep(3600))
    try:
        async for message in receiver:
            yield ws_send(message)
    finally:
        helper.cancel()
        await asyncio.wait((helper,))


@websocket
async def doubler(scope, receiver):
    async for message in receiver:
        yield ws_send(str(int(message) * 2))


@websocket
async def needs_a_user(scope, receiver):
    user = scope["user"]  # KeyError: nothing put it there
    async for message in receiver:
        yield ws_send(f"{user}: {message}")


async def hasty(scope, receive, send):
    await receive()
    await send({"type": "websocket.send", "text": "too early"})
"""


def run(pytester: pytest.Pytester, tests: str, *args: str, ini: str = ASYNCIO_AUTO):
    """Run ``tests`` in pytest; return the run and its reports by test name and phase."""
    pytester.makeini(ini)
    pytester.makepyfile(apps=APPS, test_inner=tests)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    reports: dict[str, dict[str, pytest.TestReport]] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):
        reports.setdefault(report.nodeid.split("::")[-1], {})[report.when] = report
    return result, reports


def test_a_test_with_the_fixture_passes(pytester):
    result, _ = run(
        pytester,
        """
        import asyncio

        import pytest

        from apps import echo, hasty, tidy
        from shallot_ws.testing import ASGIViolation


        async def test_echo(ws_client):
            assert ws_client.timeout == 2.0
            async with ws_client(echo, "/chat?room=1", headers={"x-a": "b"}) as ws:
                assert ws.timeout == 2.0
                assert ws.scope["path"] == "/chat"
                await ws.send("hi")
                assert await ws.receive() == "hi room=1"
            assert ws_client.connections == [ws]


        async def test_two_connections_and_the_tests_own_task(ws_client):
            async with ws_client(tidy, "/tidy") as first:
                async with ws_client(echo) as second:
                    mine = asyncio.create_task(asyncio.Event().wait())
                    await second.send("hi")
                    assert await second.receive() == "hi"
                # tidy's helper and the test's task outlive the echo: neither is its leak
                await first.send("x")
                assert await first.receive() == "x"
            mine.cancel()


        async def test_a_violation_the_test_expects(ws_client):
            with pytest.raises(ASGIViolation):
                async with ws_client(hasty):
                    pass
        """,
    )
    result.assert_outcomes(passed=3)


def test_a_handler_error_comes_out_of_send_with_no_teardown_error(pytester):
    result, reports = run(
        pytester,
        """
        import pytest

        from apps import needs_a_user


        async def test_the_error_is_the_handlers(ws_client):
            async with ws_client(needs_a_user) as ws:
                assert await ws.wait_closed() == 1011
                with pytest.raises(KeyError, match="'user'"):
                    await ws.send("hi")


        async def test_unexpected_it_fails_the_test_with_the_handlers_error(ws_client):
            async with ws_client(needs_a_user) as ws:
                await ws.wait_closed()
                await ws.send("hi")
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    failed = reports["test_unexpected_it_fails_the_test_with_the_handlers_error"]
    assert failed["call"].failed and "KeyError: 'user'" in failed["call"].longreprtext
    assert failed["teardown"].passed  # no second, confusing error at teardown


def test_timeouts_fail_saying_what_the_test_waited_for(pytester):
    _, reports = run(
        pytester,
        """
        import asyncio

        import pytest

        from apps import silent


        @pytest.mark.ws_timeout(0.2)
        async def test_waits_for_a_message(ws_client):
            async with ws_client(silent) as ws:
                await ws.receive()


        @pytest.mark.ws_timeout(0.05)
        async def test_hangs_outside_the_client(ws_client):
            await asyncio.Event().wait()


        @pytest.mark.ws_timeout(0.05)
        async def test_hangs_with_the_marker_alone():
            await asyncio.sleep(3600)


        @pytest.mark.ws_timeout(0.05)
        async def test_a_jump_of_the_loop_clock_does_not_trip_the_guard(monkeypatch):
            loop = asyncio.get_running_loop()
            real = loop.time
            monkeypatch.setattr(loop, "time", lambda: real() + 3600)  # as a virtual clock may
            await asyncio.sleep(0.1)  # real time on purpose: the guard counts real seconds
        """,
    )
    assert reports["test_a_jump_of_the_loop_clock_does_not_trip_the_guard"]["call"].passed
    waits = reports["test_waits_for_a_message"]["call"]
    assert waits.failed
    assert waits.longrepr.reprcrash.message == (
        "shallot_ws.errors.WSTimeout: timed out after 0.2 s waiting for a message from the app"
    )
    assert waits.duration < 1.5  # the marker's 0.2 s, not the default 2 s

    hangs = reports["test_hangs_outside_the_client"]["call"]
    assert hangs.failed
    text = hangs.longreprtext
    assert text.startswith(
        "the test did not finish within 0.5 s (10 x its ws_timeout of 0.05 s); "
        "it was cancelled where it waited:\n"
        '  File "'
    )
    assert "line 16, in test_hangs_outside_the_client\n    await asyncio.Event().wait()\n" in text
    assert reports["test_hangs_outside_the_client"]["teardown"].passed

    alone = reports["test_hangs_with_the_marker_alone"]["call"]
    assert alone.failed
    assert "await asyncio.sleep(3600)" in alone.longreprtext


def test_what_an_app_leaves_behind_fails_the_test_at_teardown(pytester):
    _, reports = run(
        pytester,
        """
        from apps import doubler, echo, leaky


        async def test_leaks_a_task(ws_client):
            async with ws_client(leaky, "/leak") as ws:
                await ws.send("x")
                assert await ws.receive() == "x"


        async def test_forgets_to_close(ws_client):
            ws = await ws_client(echo, "/forgotten?x=1").__aenter__()
            await ws.send("x")


        async def test_fails_before_the_app_error_is_raised(ws_client):
            async with ws_client(doubler) as ws:
                await ws.send("x")
                await ws.wait_closed()
                assert False, "the test's own failure"
        """,
    )
    leaks = reports["test_leaks_a_task"]
    assert leaks["call"].passed and leaks["teardown"].failed
    assert re.fullmatch(
        r"app 'leaky' at '/leak' left 1 task running after its connection ended: "
        r"\S+ \(sleep\)",  # the task's name: "None" on CPython 3.13.0, which drops it
        leaks["teardown"].longreprtext,
    )

    forgets = reports["test_forgets_to_close"]
    assert forgets["call"].passed and forgets["teardown"].failed
    assert forgets["teardown"].longreprtext == (
        "app 'echo' at '/forgotten?x=1' is still running after the test: "
        "leave its 'async with' block, or close it"
    )

    fails = reports["test_fails_before_the_app_error_is_raised"]
    assert fails["call"].failed and "the test's own failure" in fails["call"].longreprtext
    assert fails["teardown"].longreprtext == (
        "app 'doubler' at '/' raised ValueError(\"invalid literal for int() with base 10: 'x'\"),"
        " which never reached the test"
    )


def test_the_ini_options_and_the_marker_set_the_timeouts(pytester):
    result, reports = run(
        pytester,
        """
        import asyncio

        import pytest

        from apps import echo, silent


        async def test_the_ini_option(ws_client):
            assert ws_client.timeout == 0.25
            async with ws_client(silent) as ws:
                await ws.receive()


        @pytest.mark.ws_timeout(0.1)
        async def test_the_marker_wins_and_an_explicit_timeout_wins_over_both(ws_client):
            assert ws_client.timeout == 0.1
            async with ws_client(echo, timeout=1.5) as ws:
                assert ws.timeout == 1.5


        async def test_hangs(ws_client):
            await asyncio.Event().wait()
        """,
        ini=ASYNCIO_AUTO + "ws_timeout = 0.25\nws_test_timeout = 0.4\n",
    )
    result.assert_outcomes(passed=1, failed=2)
    assert reports["test_the_ini_option"]["call"].longrepr.reprcrash.message == (
        "shallot_ws.errors.WSTimeout: timed out after 0.25 s waiting for a message from the app"
    )
    assert reports["test_hangs"]["call"].longreprtext.startswith(
        "the test did not finish within 0.4 s (ws_test_timeout); it was cancelled where it waited:"
    )


def test_a_bad_timeout_is_a_usage_error(pytester):
    pytester.makeini(ASYNCIO_AUTO + "ws_timeout = soon\n")
    pytester.makepyfile(test_inner="def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ws_timeout expected a positive number of seconds, got 'soon'"])


def test_the_plugin_loads_through_its_entry_point_without_pytest_asyncio(pytester, monkeypatch):
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    result, _ = run(
        pytester,
        """
        import asyncio

        from apps import echo


        def test_the_plugin_came_from_its_entry_point(request):
            plugins = request.config.pluginmanager
            assert plugins.has_plugin("shallot_ws")
            assert not plugins.has_plugin("asyncio")
            loaded = {plugin.__name__ for plugin, _ in plugins.list_plugin_distinfo()}
            assert "shallot_ws.testing.pytest_plugin" in loaded


        def test_the_fixture_in_a_sync_test(ws_client):
            async def scenario():
                async with ws_client(echo) as ws:
                    await ws.send("hi")
                    assert await ws.receive() == "hi"

            asyncio.run(scenario())
        """,
        "-p",
        "no:asyncio",
        ini="[pytest]\n",
    )
    result.assert_outcomes(passed=2)


def test_importing_the_plugin_imports_neither_hypothesis_nor_pytest_asyncio():
    code = (
        "import sys, shallot_ws.testing.pytest_plugin; "
        "print(sorted({'hypothesis', 'pytest_asyncio'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"


# -- the factory on its own ----------------------------------------------------------------


@websocket
async def spawner(scope, receiver):
    """Starts a task per frame and keeps it while the connection lasts."""
    helpers = []
    try:
        async for message in receiver:
            # a sleep, not an Event: the loop's timer keeps a leaked helper alive to be seen
            helpers.append(asyncio.create_task(asyncio.sleep(3600), name=f"helper-{message}"))
            yield ws_send(message)
    finally:
        if scope["path"] == "/tidy":
            for helper in helpers:
                helper.cancel()
            await asyncio.wait(helpers)


async def test_leaks_are_told_apart_between_connections_open_together():
    client = WSClient(timeout=1.0)
    loop = asyncio.get_running_loop()
    factory = loop.get_task_factory()
    async with client(spawner, "/leaky") as leaky, client(spawner, "/tidy") as tidy:
        await tidy.send("t")
        assert await tidy.receive() == "t"
        await leaky.send("l")
        assert await leaky.receive() == "l"
        mine = asyncio.create_task(asyncio.Event().wait())
        # when /tidy ends, the helper of /leaky runs on: it is not /tidy's leak
    assert client.problems() == [
        "app 'spawner' at '/leaky' left 1 task running after its connection ended: helper-l (sleep)"
    ]
    assert not mine.done()  # the test's own task is no one's leak
    mine.cancel()
    assert loop.get_task_factory() is factory  # restored once no connection is open


async def test_an_app_that_never_answers_is_ended_when_the_handshake_times_out():
    started = asyncio.Event()

    async def stuck(scope, receive, send):
        started.set()
        await asyncio.Event().wait()

    client = WSClient(timeout=0.05)
    with pytest.raises(AssertionError, match="waiting for the app to accept or refuse"):
        async with virtual_time(), client(stuck):
            pass
    assert started.is_set() and client.connections[0].finished
    assert client.problems() == []
