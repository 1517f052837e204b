"""The pytest plugin: a ``ws_client`` fixture, per-test timeouts, and a check at teardown
that the app left nothing behind.

Installing shallot_ws registers it (entry point ``pytest11``, name ``shallot_ws``);
``pytest -p no:shallot_ws`` turns it off. It imports neither hypothesis nor pytest-asyncio:
the fixture works in any test that runs asyncio, and the hang guard wraps the async tests
that pytest-asyncio runs.

Theory of operation. ``ws_client(app, path, **options)`` is ``connect`` with the test's
timeout, inside a context manager that records the connection. While the connection
opens, a context variable names it; the app's task copies that context, and so does every
task and callback the app starts in turn. A task factory, chained in front of the loop's
own while a connection is open, notes each new task's owner from that variable, so the
tasks of two connections open together, and the test's own tasks, are never confused.
When the connection ends (its app has finished), tasks the connection owns that still
run have leaked. At the test's teardown the fixture fails the test with every finding:
leaked tasks, apps still running, ASGI violations and app exceptions the test never saw.

The hang guard replaces the test function, for the duration of the call, with a coroutine
that awaits it under a watchdog; pytest-asyncio reads the test function when it runs the
test (``runtest``), so it drives the guard as it would the test. The watchdog is a timer
thread, so it counts real seconds even when the loop runs on a virtual clock. When it
fires, it asks the loop to cancel the test's task; the test fails saying where it waited.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pytest

from ..errors import ASGIViolation
from ..signatures import callable_name
from ..types import ASGIApp
from .client import WSTestConnection, connect

__all__ = ["WSClient", "ws_client"]

DEFAULT_WS_TIMEOUT = 2.0
HANG_FACTOR = 10  # without ws_test_timeout, a test may run this many times its ws_timeout
_SETTLE_ROUNDS = 3  # loop iterations a leaked task gets to finish a cancellation under way


# -- the fixture's factory -------------------------------------------------------------


class WSClient:
    """What the ``ws_client`` fixture gives: a factory of in-memory connections.

    ``async with ws_client(app, "/path?q=1", headers=..., subprotocols=...) as ws:`` opens a
    ``connect`` connection (``ws`` is the ``WSTestConnection``) with ``timeout`` unless the
    call gives one. ``problems()`` lists what the connections left behind; the fixture fails
    the test with it at teardown.
    """

    def __init__(self, timeout: float = DEFAULT_WS_TIMEOUT) -> None:
        self.timeout = timeout
        self.connections: list[WSTestConnection] = []  # every connection made, in order
        self._records: list[_Record] = []
        self._findings: list[str] = []
        self._trackers: dict[asyncio.AbstractEventLoop, _Tracker] = {}

    def __call__(self, app: ASGIApp, path: str = "/", **options: Any) -> _Connecting:
        """A connection to ``app`` at ``path``; ``options`` are those of ``connect``."""
        options.setdefault("timeout", self.timeout)
        connection = connect(app, path, **options)
        record = _Record(self, connection, f"app {callable_name(app)!r} at {path!r}")
        self.connections.append(connection)
        self._records.append(record)
        return _Connecting(record)

    def problems(self) -> list[str]:
        """What the connections left behind, one line each; empty when all is well."""
        found = list(self._findings)
        for record in self._records:
            found.extend(record.problems())
        return found

    def _cleanup(self) -> None:
        """Cancel apps still running and restore the loops' task factories."""
        for record in self._records:
            task = record.connection.app_task
            if task is not None and not task.done() and not task.get_loop().is_closed():
                task.cancel()
        for tracker in list(self._trackers.values()):
            tracker.uninstall()
        self._trackers.clear()

    def _track(self, loop: asyncio.AbstractEventLoop) -> _Tracker:
        tracker = self._trackers.get(loop)
        if tracker is None:
            tracker = self._trackers[loop] = _Tracker(loop)
        tracker.users += 1
        return tracker

    def _untrack(self, tracker: _Tracker) -> None:
        tracker.users -= 1
        if tracker.users == 0:
            tracker.uninstall()
            self._trackers.pop(tracker.loop, None)


_OWNER: contextvars.ContextVar[_Record | None] = contextvars.ContextVar(
    "shallot_ws_connection", default=None
)


class _Tracker:
    """Notes the connection that owns each task created on ``loop`` while installed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.users = 0
        self.owners: weakref.WeakKeyDictionary[asyncio.Future[Any], _Record] = (
            weakref.WeakKeyDictionary()
        )
        self.previous = loop.get_task_factory()
        loop.set_task_factory(self.create_task)  # type: ignore[arg-type]

    def create_task(
        self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Future[Any]:
        context = kwargs.get("context")
        owner = context.get(_OWNER) if context is not None else _OWNER.get()
        if self.previous is not None:
            task = self.previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        if owner is not None:
            self.owners[task] = owner
        return task

    def uninstall(self) -> None:
        if self.loop.get_task_factory() == self.create_task:
            self.loop.set_task_factory(self.previous)


@dataclass(eq=False)
class _Record:
    """One connection made through the factory, and what became of it."""

    client: WSClient
    connection: WSTestConnection
    label: str
    tracker: _Tracker | None = None
    exited: bool = False
    violations_raised: bool = False

    async def end(self) -> None:
        """The connection is over: make sure its app has ended, then look for leaked tasks."""
        tracker = self.tracker
        if self.exited or tracker is None:
            return
        self.exited = True
        try:
            task = self.connection.app_task
            if task is not None and not task.done():  # the handshake timed out, or the exit
                task.cancel()  # itself was cancelled: end the app as the client would
                await asyncio.wait((task,), timeout=self.connection.timeout)
                if not task.done():
                    self.client._findings.append(
                        f"{self.label} is still running: it ignored cancellation"
                    )
                    return
            leaked = self._leaked(tracker)
            for _ in range(_SETTLE_ROUNDS):
                if not leaked:
                    return
                await asyncio.sleep(0)
                leaked = self._leaked(tracker)
            if leaked:
                names = ", ".join(_describe(leak) for leak in leaked)
                count = f"{len(leaked)} task" + ("s" if len(leaked) > 1 else "")
                self.client._findings.append(
                    f"{self.label} left {count} running after its connection ended: {names}"
                )
                for leak in leaked:
                    leak.cancel()
        finally:
            self.client._untrack(tracker)

    def _leaked(self, tracker: _Tracker) -> list[asyncio.Task[Any]]:
        return [
            task
            for task in asyncio.all_tasks(tracker.loop)
            if not task.done() and tracker.owners.get(task) is self
        ]

    def problems(self) -> list[str]:
        connection = self.connection
        found: list[str] = []
        task = connection.app_task
        if task is not None and not self.exited and (not task.done() or task.cancelled()):
            found.append(
                f"{self.label} is still running after the test: "
                "leave its 'async with' block, or close it"
            )
        if connection.violations and not self.violations_raised:
            found.append(
                f"{self.label} broke the ASGI protocol and the test never saw it: "
                + "; ".join(connection.violations)
            )
        if connection.raise_app_exceptions and not connection.errors_raised:
            for error in connection.app_exceptions:
                found.append(f"{self.label} raised {error!r}, which never reached the test")
        return found


class _Connecting:
    """``async with ws_client(...) as ws``: opens the connection and tracks its tasks."""

    def __init__(self, record: _Record) -> None:
        self._record = record

    async def __aenter__(self) -> WSTestConnection:
        record = self._record
        if record.tracker is not None:
            raise RuntimeError("a ws_client connection opens once: call ws_client again")
        record.tracker = record.client._track(asyncio.get_running_loop())
        token = _OWNER.set(record)
        try:
            connection = await record.connection.__aenter__()
        except BaseException as error:
            _OWNER.reset(token)
            if isinstance(error, ASGIViolation):
                record.violations_raised = True
            await record.end()
            raise
        _OWNER.reset(token)
        return connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        record = self._record
        try:
            await record.connection.__aexit__(exc_type, exc, tb)
        except ASGIViolation:
            record.violations_raised = True
            raise
        finally:
            await record.end()


def _describe(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", None) or type(coro).__name__
    return f"{task.get_name()} ({name})"


# -- settings: the ini options and the marker ------------------------------------------


@dataclass(frozen=True)
class _Settings:
    ws_timeout: float
    test_timeout: float | None  # None: HANG_FACTOR times the test's ws_timeout; 0: no guard


_SETTINGS = pytest.StashKey[_Settings]()


def _seconds(value: object, what: str, *, zero: bool = False) -> float:
    """``value`` as a number of seconds; ``what`` names it in the error."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (value > 0 or (zero and value == 0))
        and value != float("inf")
    ):
        return float(value)
    kind = "a non-negative" if zero else "a positive"
    raise ValueError(f"{what} expected {kind} number of seconds, got {value!r}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "ws_timeout",
        f"seconds a ws_client connection waits for the app (default {DEFAULT_WS_TIMEOUT})",
        default=str(DEFAULT_WS_TIMEOUT),
    )
    parser.addini(
        "ws_test_timeout",
        "seconds a test using ws_client or the ws_timeout marker may run before it fails "
        f"as hung (default: {HANG_FACTOR} x its ws_timeout; 0 turns the guard off)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ws_timeout(seconds): how long this test's ws_client connections wait for the app "
        "(default: the ws_timeout ini option); the whole test may run "
        f"{HANG_FACTOR} x as long (or ws_test_timeout)",
    )
    try:
        ws_timeout = _seconds(config.getini("ws_timeout"), "ws_timeout")
        raw = config.getini("ws_test_timeout").strip()
        test_timeout = _seconds(raw, "ws_test_timeout", zero=True) if raw else None
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[_SETTINGS] = _Settings(ws_timeout, test_timeout)


def _timeouts(item: pytest.Item) -> tuple[float, float | None, str]:
    """The item's ws timeout, the bound of the whole test (None: no guard), and where the
    bound comes from."""
    settings = item.config.stash.get(_SETTINGS, None) or _Settings(DEFAULT_WS_TIMEOUT, None)
    timeout = settings.ws_timeout
    marker = item.get_closest_marker("ws_timeout")
    if marker is not None:
        if len(marker.args) != 1 or marker.kwargs:
            pytest.fail(
                f"ws_timeout expected one number of seconds, got {marker.args!r} {marker.kwargs!r}",
                pytrace=False,
            )
        try:
            timeout = _seconds(marker.args[0], "ws_timeout")
        except ValueError as error:
            pytest.fail(str(error), pytrace=False)
    if settings.test_timeout is None:
        return timeout, HANG_FACTOR * timeout, f"{HANG_FACTOR} x its ws_timeout of {timeout} s"
    if settings.test_timeout == 0:
        return timeout, None, "ws_test_timeout is 0"
    return timeout, settings.test_timeout, "ws_test_timeout"


# -- the fixture -----------------------------------------------------------------------


@pytest.fixture
def ws_client(request: pytest.FixtureRequest) -> Iterator[WSClient]:
    """A factory of in-memory connections with the test's timeout, checked at teardown.

    ``async with ws_client(app, "/path?q=1", headers=..., subprotocols=...) as ws:`` takes
    the arguments of ``shallot_ws.testing.connect``; ``timeout`` defaults to the test's
    ``ws_timeout`` marker, else the ``ws_timeout`` ini option (2.0 s). At teardown the test
    fails if an app is still running, if a task an app started outlived its connection, or
    if an ASGI violation or an app exception never reached the test.
    """
    client = WSClient(_timeouts(request.node)[0])
    yield client
    try:
        problems = client.problems()
    finally:
        client._cleanup()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# -- the hang guard --------------------------------------------------------------------


def _guarded(test: Callable[..., Any], bound: float, why: str) -> Callable[..., Any]:
    """``test`` (a coroutine function) failing once it has run ``bound`` seconds."""

    @functools.wraps(test)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        task = asyncio.current_task()
        assert task is not None
        where: list[str] = []

        loop = asyncio.get_running_loop()

        def expire() -> None:  # in the loop
            if not task.done():
                where.extend(_awaiting(task)[1:] or ["  (nowhere: it was not waiting)\n"])
                task.cancel()

        def alarm() -> None:  # in the watchdog's thread
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(expire)

        # Wall-clock seconds, from a thread: a loop on virtual time cannot trip it.
        watchdog = threading.Timer(bound, alarm)
        watchdog.daemon = True
        watchdog.start()
        try:
            result = await test(*args, **kwargs)
        except BaseException as error:
            if not where:
                raise
            if sys.version_info >= (3, 11):
                task.uncancel()
            message = _hung(bound, why, where)
            if not isinstance(error, asyncio.CancelledError):
                message += f"\nthen it raised {error!r}"
            raise pytest.fail.Exception(message, pytrace=False) from None
        finally:
            watchdog.cancel()
        if where:  # the test swallowed the cancellation
            if sys.version_info >= (3, 11):
                task.uncancel()
            pytest.fail(_hung(bound, why, where), pytrace=False)
        return result

    return guarded


def _hung(bound: float, why: str, where: list[str]) -> str:
    return (
        f"the test did not finish within {bound:g} s ({why}); it was cancelled where it "
        "waited:\n" + "".join(where).rstrip("\n")
    )


def _awaiting(task: asyncio.Task[Any]) -> list[str]:
    """Where a suspended task waits: its chain of awaits, outermost first, formatted."""
    frames = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            break
        frames.append((frame, frame.f_lineno))
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return traceback.StackSummary.extract(iter(frames)).format()


def _guard_for(item: pytest.Item) -> Callable[..., Any] | None:
    """The guarded test function of an async test that pytest-asyncio runs and that uses
    the plugin (the fixture or the marker); None for any other test."""
    if not isinstance(item, pytest.Function):
        return None
    if "ws_client" not in item.fixturenames and item.get_closest_marker("ws_timeout") is None:
        return None
    if item.get_closest_marker("asyncio") is None or not inspect.iscoroutinefunction(item.obj):
        return None
    _, bound, why = _timeouts(item)
    if bound is None:
        return None
    return _guarded(item.obj, bound, why)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    __tracebackhide__ = True
    guarded = _guard_for(item)
    if guarded is None:
        return (yield)
    assert isinstance(item, pytest.Function)
    original = item.obj
    item.obj = guarded
    try:
        return (yield)
    finally:
        item.obj = original
