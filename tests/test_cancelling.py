"""CancelTimer: cancels a task on time, again while it swallows that, and knows its own
cancellations from everyone else's."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from shallot_ws.cancelling import CancelTimer, cancel_requested
from shallot_ws.testing import virtual_time


async def _stopped_at(timer_args: tuple[float, float | None], swallow: int = 0) -> list[float]:
    """Run a task that sleeps for ever under a CancelTimer armed with ``timer_args``;
    return the virtual times at which it was cancelled."""
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def work() -> None:
        timer = CancelTimer()
        timer.arm(*timer_args)
        for _ in range(swallow + 1):
            try:
                await asyncio.sleep(1000)
            except asyncio.CancelledError as exc:
                times.append(loop.time())
                if len(times) > swallow:
                    assert timer.owns(exc)
                    return
        timer.forget()

    async with virtual_time():
        task = asyncio.create_task(work())
        await task
        assert task.cancelling() == 0
    return times


async def test_the_timer_cancels_the_task_after_its_delay():
    assert await _stopped_at((2.5, None)) == [2.5]


async def test_a_task_that_swallows_the_cancel_is_cancelled_again_after_each_repeat():
    assert await _stopped_at((1.0, 3.0), swallow=2) == [1.0, 4.0, 7.0]


async def test_without_repeat_a_swallowed_cancel_is_not_repeated():
    loop = asyncio.get_running_loop()
    async with virtual_time():
        timer = CancelTimer(asyncio.current_task())
        timer.arm(1.0)
        with pytest.raises(asyncio.CancelledError) as caught:
            await asyncio.sleep(10)
        assert timer.owns(caught.value)
        await asyncio.sleep(50)  # no second cancellation
        assert loop.time() == 51.0
        assert not timer.armed


async def test_arming_again_replaces_the_pending_timer():
    loop = asyncio.get_running_loop()
    async with virtual_time():
        timer = CancelTimer()
        timer.arm(1.0)
        await asyncio.sleep(0.5)
        timer.arm(2.0)
        with pytest.raises(asyncio.CancelledError) as caught:
            await asyncio.sleep(10)
        assert loop.time() == 2.5
        assert timer.owns(caught.value)
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_disarmed_timer_cancels_nothing():
    loop = asyncio.get_running_loop()
    async with virtual_time():
        timer = CancelTimer()
        timer.arm(1.0, repeat=1.0)
        assert timer.armed
        timer.disarm()
        assert not timer.armed
        await asyncio.sleep(5)
        assert loop.time() == 5.0
        assert timer.cancels == 0


async def test_a_closed_gate_stops_the_timer_without_cancelling():
    loop = asyncio.get_running_loop()
    open_ = [True]
    async with virtual_time():
        timer = CancelTimer(gate=lambda: open_[0])
        timer.arm(1.0, repeat=1.0)
        with pytest.raises(asyncio.CancelledError) as caught:
            await asyncio.sleep(10)
        assert timer.owns(caught.value)
        open_[0] = False
        await asyncio.sleep(10)
        assert loop.time() == 11.0
        assert not timer.armed
        assert timer.cancels == 0


async def test_someone_elses_cancellation_is_not_owned():
    loop = asyncio.get_running_loop()
    outcome: list[object] = []

    async def work() -> None:
        timer = CancelTimer()
        timer.arm(1.0)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError as exc:
            outcome.append(timer.owns(exc))
            raise

    async with virtual_time():
        task = asyncio.create_task(work())
        await asyncio.sleep(0)
        task.cancel()  # a server's shutdown, before the timer
        with pytest.raises(asyncio.CancelledError):
            await task
        assert outcome == [False]
        assert loop.time() == 0.0


async def test_own_and_foreign_cancellations_together_are_not_owned_alone():
    outcome: list[object] = []

    async def work() -> None:
        timer = CancelTimer()
        timer.cancel()
        asyncio.current_task().cancel()  # type: ignore[union-attr]  # someone else too
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError as exc:
            outcome.append(timer.owns(exc))
            outcome.append(asyncio.current_task().cancelling())  # type: ignore[union-attr]
            raise

    task = asyncio.create_task(work())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == [False, 1]  # ours taken back, the other one stays


async def test_two_timers_on_one_task_each_know_their_own():
    outcome: list[object] = []

    async def work() -> None:
        outer = CancelTimer(message="outer")
        inner = CancelTimer(message="inner")
        outer.cancel()
        inner.cancel()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError as exc:
            outcome.append(inner.owns(exc))  # the inner one sees the outer's too
            outcome.append(outer.owns(exc))  # then the outer's is alone
            outcome.append(asyncio.current_task().cancelling())  # type: ignore[union-attr]

    await asyncio.create_task(work())
    assert outcome == [False, True, 0]


async def test_owns_is_false_with_no_cancellation_made():
    timer = CancelTimer()
    assert not timer.owns(asyncio.CancelledError())
    assert timer.cancels == 0


async def test_forget_takes_back_swallowed_cancellations():
    async def work() -> int:
        timer = CancelTimer()
        for _ in range(3):
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # swallowed
                await asyncio.sleep(10)
        assert timer.cancels == 3
        timer.forget()
        assert timer.cancels == 0
        return asyncio.current_task().cancelling()  # type: ignore[union-attr]

    assert await asyncio.create_task(work()) == 0


async def test_a_done_task_is_not_cancelled():
    async def nothing() -> None:
        return None

    task = asyncio.create_task(nothing())
    await task
    timer = CancelTimer(task)
    assert not timer.cancel()
    assert timer.cancels == 0


async def test_cancel_requested_tells_a_cancellation_raised_by_the_task_itself():
    seen: list[bool] = []

    async def work() -> None:
        task = asyncio.current_task()
        try:
            raise asyncio.CancelledError  # raised, not requested
        except asyncio.CancelledError:
            seen.append(cancel_requested(task))
        CancelTimer().cancel()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append(cancel_requested(task))

    await asyncio.create_task(work())
    assert seen == [False, True]
    assert cancel_requested(None)


async def test_repr_says_whether_armed():
    timer = CancelTimer()
    assert repr(timer) == "<CancelTimer idle, 0 cancels>"
    timer.arm(5.0)
    assert repr(timer) == "<CancelTimer armed, 0 cancels>"
    timer.disarm()
