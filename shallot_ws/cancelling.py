"""Cancelling a task on a timer, and telling those cancellations from everyone else's.

Theory of operation. A ``CancelTimer`` belongs to one task (the connection's). ``arm(delay,
repeat)`` schedules one ``loop.call_later``; when it fires, the task is cancelled where it
waits (``cancel()``, counted) and, with ``repeat``, the timer is armed again, so a task that
swallows the cancellation is cancelled again after each ``repeat`` until ``disarm()``. A
``gate`` given to the constructor is asked when the timer fires: false, nothing is cancelled
and the timer stops.

When a ``CancelledError`` comes out of the task's work, ``owns(exc)`` says whether it is
this timer's alone, and takes the counted cancellations back (``Task.uncancel`` on Python
3.11+), as ``asyncio.timeout`` does: if the task's count of cancellation requests is still
above what it was when the timer was made, someone else (a server shutdown, another timer)
wants the task cancelled too, and the error must propagate. Python 3.10 cannot count: there
the timer cancels with its ``message`` and a ``CancelledError`` carrying it is its own.
``forget()`` takes back cancellations the task swallowed, so it does not end still marked as
being cancelled.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["COUNTS", "CancelTimer", "cancel_requested", "cancels_pending", "uncancel"]

COUNTS = sys.version_info >= (3, 11)  # Task.cancelling() and Task.uncancel()
_COUNTS = COUNTS

if sys.version_info >= (3, 11):

    def _cancelling(task: asyncio.Task[Any]) -> int:
        return task.cancelling()

    def _uncancel(task: asyncio.Task[Any]) -> int:
        return task.uncancel()

else:  # pragma: no cover - Python 3.10 cannot count cancellations

    def _cancelling(task: asyncio.Task[Any]) -> int:
        return 1

    def _uncancel(task: asyncio.Task[Any]) -> int:
        return 0


def uncancel(task: asyncio.Task[Any]) -> int:
    """Take back one cancellation request of ``task``; the requests left (0 on Python 3.10,
    which cannot count them)."""
    return _uncancel(task)


def cancel_requested(task: asyncio.Task[Any] | None) -> bool:
    """Whether anyone asked for ``task`` to be cancelled and was not taken back.

    False for a ``CancelledError`` the task's own code raised. Python 3.10 cannot tell: there
    it is always true.
    """
    if not _COUNTS or task is None:
        return True
    return _cancelling(task) > 0


def cancels_pending(task: asyncio.Task[Any] | None) -> int:
    """How many cancellation requests of ``task`` are not taken back (0 on Python 3.10).

    Compared before and after an ``await`` into a library, it tells whether a cancellation
    came meanwhile and was swallowed there (the request is still counted, but no
    ``CancelledError`` came out), so the caller can raise it after all.
    """
    if not _COUNTS or task is None:
        return 0
    return _cancelling(task)


class CancelTimer:
    """Cancels one task after a delay, again while it swallows that, and knows its own.

    ``task`` defaults to the current task. ``message`` is the cancellation's message, how
    Python 3.10 tells this timer's cancellations apart. ``gate``, if given, is asked when the
    timer fires: false, nothing is cancelled and the timer stops.
    """

    __slots__ = ("_baseline", "_gate", "_handle", "_loop", "_message", "_repeat", "cancels", "task")

    def __init__(
        self,
        task: asyncio.Task[Any] | None = None,
        *,
        message: str = "shallot_ws: cancelled by a timer",
        gate: Callable[[], bool] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.task = task if task is not None else asyncio.current_task()
        self._message = message
        self._gate = gate
        self._handle: asyncio.TimerHandle | None = None
        self._repeat: float | None = None
        self.cancels = 0  # this timer's cancellations not yet taken back
        # The task's count of cancellation requests now: above it once ours are taken back,
        # someone else wants the task cancelled.
        self._baseline = _cancelling(self.task) if _COUNTS and self.task is not None else 0

    def __repr__(self) -> str:
        state = "armed" if self._handle is not None else "idle"
        return f"<CancelTimer {state}, {self.cancels} cancels>"

    @property
    def armed(self) -> bool:
        """Whether the timer is scheduled to fire."""
        return self._handle is not None

    def arm(self, delay: float, repeat: float | None = None) -> None:
        """Cancel the task in ``delay`` seconds, then every ``repeat`` seconds (if given)
        while it goes on; a timer already armed is replaced."""
        self.disarm()
        self._repeat = repeat
        self._handle = self._loop.call_later(delay, self._fire)

    def disarm(self) -> None:
        """Stop the timer; cancellations already made stay counted."""
        handle = self._handle
        if handle is not None:
            handle.cancel()
            self._handle = None

    def cancel(self) -> bool:
        """Cancel the task now, counted as this timer's; false if the task is done."""
        task = self.task
        if task is None or task.done():
            return False
        self.cancels += 1
        if _COUNTS:
            task.cancel()
        else:  # pragma: no cover - Python 3.10 tells a cancellation by its message
            task.cancel(self._message)
        return True

    def _fire(self) -> None:
        self._handle = None
        if self._gate is not None and not self._gate():
            return
        if self.cancel() and self._repeat is not None:
            self._handle = self._loop.call_later(self._repeat, self._fire)

    def owns(self, exc: BaseException) -> bool:
        """Whether the ``CancelledError`` ``exc`` is this timer's alone; either way, this
        timer's cancellations are taken back."""
        cancels, self.cancels = self.cancels, 0
        if not cancels:
            return False
        task = self.task
        if not _COUNTS or task is None:  # pragma: no cover - Python 3.10
            return exc.args == (self._message,)
        remaining = 0
        for _ in range(cancels):
            remaining = _uncancel(task)
        return remaining <= self._baseline  # more: someone else cancelled too

    def forget(self) -> None:
        """Take back the cancellations the task swallowed (and stop the timer)."""
        self.disarm()
        cancels, self.cancels = self.cancels, 0
        task = self.task
        if _COUNTS and task is not None:
            for _ in range(cancels):
                _uncancel(task)
