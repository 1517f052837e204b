"""Virtual time for tests: ``async with virtual_time() as clock:``.

Inside the block the running loop reads a virtual clock: ``loop.time()`` starts at 0 and
moves only when the loop has nothing else to do, so handlers that sleep or time out
(tickers, idle timeouts, the driver's drain and stall timers, the test client's own
timeouts) are tested without real waiting, and their times are exact and the same on every
run.

Theory of operation. asyncio's loop (``BaseEventLoop._run_once``, the same from Python 3.10
to 3.13) computes how long it may wait from ``self.time()`` and its next timer, then calls
``self._selector.select(timeout)``. The clock replaces two things on the loop *instance*,
and nothing else:

* ``loop.time`` returns the virtual time;
* ``loop._selector.select(timeout)`` first polls the real I/O without waiting. If something
  is ready, or the loop has callbacks to run (``timeout == 0``), that is all. Otherwise the
  loop is *idle*, and in this order:

  1. a task waiting in ``advance`` for the loop to settle is woken, and time stays;
  2. with ``autojump`` on, or while ``advance`` runs, virtual time jumps to the next timer
     (it is due at once, so the loop fires it);
  3. otherwise (time frozen, or no timer at all) the real ``select`` waits for real I/O.

Timers pending when the block starts are moved onto the virtual timeline keeping what is
left of their delay, and back onto the real one when it ends, so every timer fires in order
and none is lost. uvloop and the proactor loop have no such seams: they are refused.
"""

from __future__ import annotations

import asyncio
import math
import selectors
from asyncio import selector_events
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["VirtualClock", "virtual_time"]

_Events = list[tuple[selectors.SelectorKey, int]]


def virtual_time(*, autojump: bool = True) -> VirtualClock:
    """Run the block on virtual time: ``async with virtual_time() as clock:``.

    The running loop's ``loop.time()`` reads virtual seconds from 0 while the block runs;
    whenever every task waits and a timer is pending, time jumps to it (``autojump``). With
    ``autojump=False`` time moves only through ``await clock.advance(seconds)``.
    """
    return VirtualClock(autojump=autojump)


def _type_name(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _shift_timers(loop: asyncio.AbstractEventLoop, delta: float) -> None:
    # Adding one number to every deadline keeps the heap ordered.
    for handle in loop._scheduled:  # type: ignore[attr-defined]
        handle._when += delta


def _restore(namespace: dict[str, Any], name: str, saved: tuple[bool, Any]) -> None:
    had, value = saved
    if had:
        namespace[name] = value
    else:
        namespace.pop(name, None)


class VirtualClock:
    """The virtual clock of one ``virtual_time()`` block; see ``virtual_time``.

    ``now()`` is the virtual seconds since the block started (``loop.time()`` inside it);
    ``autojump`` may be switched on and off at any time; ``await advance(seconds)`` lets
    that much virtual time pass.
    """

    def __init__(self, *, autojump: bool = True) -> None:
        self.autojump = autojump
        self._now = 0.0
        self._state = "new"  # new, running, done
        self._loop: asyncio.AbstractEventLoop | None = None
        self._selector: Any = None
        self._real_select: Callable[[float | None], _Events] | None = None
        self._saved_time: tuple[bool, Any] = (False, None)
        self._saved_select: tuple[bool, Any] = (False, None)
        self._advancing = 0  # ``advance`` calls under way: they let time move while frozen
        self._settling: list[asyncio.Future[None]] = []  # woken when the loop goes idle

    def __repr__(self) -> str:
        return f"<VirtualClock {self._state} now={self._now!r} autojump={self.autojump}>"

    @property
    def _described(self) -> str:
        return {
            "new": "one not entered yet",
            "running": "one already running",
            "done": "one whose block has ended",
        }[self._state]

    def now(self) -> float:
        """Virtual seconds since the block started; after the block, where time stopped."""
        return self._now

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass, then wait until the loop is idle.

        Every timer due within them fires, in order, at its own time; the call returns with
        ``now()`` that much later, once everything those timers set going waits again.
        ``await clock.advance(0)`` only lets the loop settle. Works with ``autojump`` off:
        then it is the only way time moves.
        """
        if type(seconds) not in (int, float) or not 0 <= seconds < math.inf:
            raise ValueError(f"advance expected a non-negative number of seconds, got {seconds!r}")
        loop = self._loop
        if self._state != "running":
            raise RuntimeError(f"advance expected a running virtual clock, got {self._described}")
        if loop is not asyncio.get_running_loop():
            raise RuntimeError("advance expected to run on the loop of its virtual_time block")
        reached = loop.create_future()
        timer = loop.call_at(self._now + seconds, _resolve, reached)
        self._advancing += 1
        try:
            await reached
        finally:
            self._advancing -= 1
            timer.cancel()
        settled = loop.create_future()
        self._settling.append(settled)
        try:
            await settled
        finally:
            if settled in self._settling:
                self._settling.remove(settled)

    # -- installing on the loop -----------------------------------------------------------

    async def __aenter__(self) -> VirtualClock:
        loop = asyncio.get_running_loop()
        if self._state != "new":
            raise RuntimeError(f"a virtual clock runs one block only, got {self._described}")
        if not isinstance(loop, selector_events.BaseSelectorEventLoop):
            raise RuntimeError(
                f"virtual_time expected an asyncio selector event loop, got {_type_name(loop)}"
            )
        if isinstance(getattr(vars(loop).get("time"), "__self__", None), VirtualClock):
            raise RuntimeError("virtual_time expected a loop on real time, got one already virtual")
        selector = loop._selector  # type: ignore[attr-defined]
        namespace = getattr(selector, "__dict__", None)
        if namespace is None:
            raise RuntimeError(
                f"virtual_time expected a selector it can wrap, got {_type_name(selector)}"
            )
        self._loop = loop
        self._selector = selector
        self._real_select = selector.select
        _shift_timers(loop, self._now - loop.time())
        self._saved_time = ("time" in vars(loop), vars(loop).get("time"))
        self._saved_select = ("select" in namespace, namespace.get("select"))
        vars(loop)["time"] = self._time
        namespace["select"] = self._select
        self._state = "running"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._uninstall()

    def _uninstall(self) -> None:
        loop = self._loop
        if self._state != "running" or loop is None:
            return
        self._state = "done"
        _restore(vars(loop), "time", self._saved_time)
        _restore(vars(self._selector), "select", self._saved_select)
        _shift_timers(loop, loop.time() - self._now)
        for waiter in self._settling:  # nobody will see the loop idle for them any more
            _resolve(waiter)
        self._settling.clear()

    # -- what the loop calls --------------------------------------------------------------

    def _time(self) -> float:
        return self._now

    def _select(self, timeout: float | None = None) -> _Events:
        real_select = self._real_select
        assert real_select is not None
        events = real_select(0)
        if events:
            return events
        loop: Any = self._loop
        if timeout == 0:  # callbacks to run, or a timer due now
            if not loop._ready and loop._scheduled and loop._scheduled[0]._when <= self._now:
                self._reach(loop._scheduled[0]._when)
            return events
        # Idle: no callback ready, no I/O ready.
        if self._settling:
            for waiter in self._settling:
                _resolve(waiter)
            self._settling.clear()
            return events
        if timeout is not None and (self.autojump or self._advancing):
            # The loop dropped cancelled timers from the head before asking: this one is
            # live. Time lands on its own deadline, not on now + timeout, to be exact.
            self._reach(loop._scheduled[0]._when)
            return events
        return real_select(None)  # frozen, or nothing scheduled: only real I/O can come

    def _reach(self, when: float) -> None:
        """Move time to ``when`` (never back), so that the loop sees a timer there as due.

        The loop fires timers before ``time() + clock_resolution``. From 2**24 s (half a
        year) on, with Linux's 1 ns resolution, that sum rounds back to ``time()``: time then
        goes on by the smallest step the float has.
        """
        resolution: float = self._loop._clock_resolution  # type: ignore[union-attr]
        now = max(self._now, when)
        while when >= now + resolution:
            now = math.nextafter(now, math.inf)
        self._now = now


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
