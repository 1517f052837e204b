"""The virtual clock: sleeps and timeouts of the loop, the driver's and the middlewares'
timers, and the test client's own, all pass at once and land on exact virtual times."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from examples.ticker import ticker
from shallot_ws import websocket, ws_send
from shallot_ws.middlewares import wrap_idle_timeout
from shallot_ws.testing import AppClosed, WSTimeout, connect
from shallot_ws.testing.clock import VirtualClock, virtual_time


@pytest.fixture
async def clock():
    """The clock as a fixture: the test runs on virtual time from its first line."""
    async with virtual_time() as clock:
        yield clock


# -- the loop's own sleeps and timeouts ----------------------------------------------------


async def test_an_hour_of_sleep_passes_at_once():
    started = time.perf_counter()
    async with virtual_time() as clock:
        assert clock.now() == 0.0
        await asyncio.sleep(3600)
        assert clock.now() == 3600.0
        assert asyncio.get_running_loop().time() == 3600.0
    assert time.perf_counter() - started < 1


async def test_the_fixture_runs_the_test_on_virtual_time(clock):
    await asyncio.sleep(90)
    assert clock.now() == 90.0


async def test_timers_fire_in_order_each_at_its_time(clock):
    fired: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        fired.append((name, clock.now()))

    loop = asyncio.get_running_loop()
    loop.call_later(2.5, lambda: fired.append(("call_later", clock.now())))
    await asyncio.gather(sleeper("c", 3), sleeper("a", 1), sleeper("b", 2), sleeper("d", 0.25))
    assert fired == [("d", 0.25), ("a", 1.0), ("b", 2.0), ("call_later", 2.5), ("c", 3.0)]
    assert clock.now() == 3.0


async def test_wait_for_times_out_in_virtual_time(clock):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.sleep(10), 3)
    assert clock.now() == 3.0
    assert await asyncio.wait_for(asyncio.sleep(1, "done"), 3) == "done"
    assert clock.now() == 4.0


async def test_timers_far_away_fire_too(clock):
    # From 2**24 s on, now + the loop's clock resolution (1 ns) rounds back to now: time
    # steps one float further so that a timer there still fires.
    await asyncio.sleep(86400 * 365 * 100)
    assert clock.now() == pytest.approx(86400 * 365 * 100)
    loop = asyncio.get_running_loop()
    assert await asyncio.wait_for(asyncio.sleep(0, "on time"), 0.001) == "on time"
    loop.call_at(loop.time(), lambda: None)
    await asyncio.sleep(0.5)
    assert clock.now() == pytest.approx(86400 * 365 * 100 + 0.5)


async def test_time_moves_only_while_every_task_waits(clock):
    for _ in range(100):  # a busy task: callbacks are ready, so time stays
        await asyncio.sleep(0)
    assert clock.now() == 0.0


# -- the client and the library's timers ---------------------------------------------------


async def test_the_ticker_ticks_one_virtual_second_apart():
    started = time.perf_counter()
    async with virtual_time() as clock, connect(ticker) as ws:
        seen = []
        for tick in range(5):
            assert await ws.receive() == f"tick {tick}"
            seen.append(clock.now())
        await ws.close()
        assert ws.finished
        stopped = clock.now()
    assert seen == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert stopped == 4.5  # asleep until 5, stopped by the drain timer (0.5 s) first
    assert time.perf_counter() - started < 1


async def test_the_drain_timer_cancels_a_sleeping_handler_after_exactly_drain_timeout(clock):
    stopped: list[object] = []

    @websocket(drain_timeout=30)
    async def sleeper(scope, receiver):
        try:
            yield ws_send("ready")
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            stopped.append(clock.now())
            raise

    async with connect(sleeper, timeout=60) as ws:  # the client's waits are virtual too
        assert await ws.receive() == "ready"
        await asyncio.sleep(7)
        left = clock.now()
        await ws.close()
    assert stopped == [left + 30]


async def test_wrap_idle_timeout_closes_after_exactly_its_seconds_of_silence(clock):
    @websocket
    @wrap_idle_timeout(30)
    async def echo(scope, receiver):
        async for message in receiver:
            yield ws_send(message)

    async with connect(echo, timeout=60) as ws:
        await asyncio.sleep(20)
        await ws.send("still here")  # 20 s of silence: not idle yet
        assert await ws.receive() == "still here"
        heard = clock.now()
        assert await ws.wait_closed() == 1001
        assert ws.close_reason == "idle timeout"
        assert clock.now() - heard == 30
    assert heard == 20


async def test_the_stall_timer_drops_frames_after_exactly_stall_timeout(clock, caplog):
    dropped: list[tuple[float, int]] = []

    @websocket(max_buffered=2, stall_timeout=5)
    async def deaf(scope, receiver):
        try:
            yield ws_send("ready")
            await asyncio.sleep(3600)  # never reads
        finally:
            dropped.append((clock.now(), receiver.dropped))

    async with connect(deaf, timeout=60, queue_size=2) as ws:
        assert await ws.receive() == "ready"
        for index in range(4):  # 2 in the handler's buffer, 2 in the server's queue
            await ws.send(str(index))
        assert clock.now() == 0
        await ws.send("4")  # pushed back until the stall timer lets the watcher drop
        assert clock.now() == 5
        await ws.close()
    assert dropped == [(5.5, 3)]  # stopped by the drain timer, 0.5 s after the close
    assert "took no frame for 5 s with 2 waiting" in caplog.text


async def test_the_clients_receive_timeout_elapses_in_virtual_time(clock):
    @websocket
    async def silent(scope, receiver):
        async for _ in receiver:
            pass
        if False:
            yield

    started = time.perf_counter()
    async with connect(silent) as ws:
        with pytest.raises(WSTimeout, match="^timed out after 5 s waiting for a message"):
            await ws.receive(timeout=5)
        assert clock.now() == 5
    assert time.perf_counter() - started < 1


async def test_a_hung_app_fails_on_the_clients_timeout_at_once(clock):
    @websocket
    async def late(scope, receiver):
        await asyncio.sleep(3)  # longer than the client's default timeout of 2 s
        yield ws_send("late")

    async with connect(late, raise_app_exceptions=False) as ws:
        with pytest.raises(WSTimeout):
            await ws.receive()
        assert clock.now() == 2
        assert await ws.receive(timeout=5) == "late"
        assert clock.now() == 3
        with pytest.raises(AppClosed):
            await ws.receive()


# -- autojump off, advance -----------------------------------------------------------------


async def test_with_autojump_off_time_moves_only_by_advance():
    async with virtual_time(autojump=False) as clock:
        sleeper = asyncio.create_task(asyncio.sleep(10, "woke"))
        await clock.advance(4)
        assert clock.now() == 4 and not sleeper.done()
        await clock.advance(6)
        assert clock.now() == 10 and sleeper.done()
        assert sleeper.result() == "woke"


async def test_advance_fires_each_timer_at_its_time_and_lets_the_loop_settle():
    async with virtual_time(autojump=False) as clock:
        fired: list[float] = []
        loop = asyncio.get_running_loop()
        for delay in (3, 1, 2, 9):
            loop.call_later(delay, lambda: fired.append(clock.now()))

        async def chain() -> None:  # a second's wait, then work that takes no time
            await asyncio.sleep(1)
            for _ in range(10):
                await asyncio.sleep(0)
            fired.append(-1)

        task = asyncio.create_task(chain())
        await clock.advance(5)
        assert clock.now() == 5
        assert fired == [1.0, -1, 2.0, 3.0]  # the chain ran to its end before advance returned
        assert task.done()
        await clock.advance(0)
        assert clock.now() == 5


async def test_advance_with_autojump_on_stops_where_it_was_told(clock):
    sleeper = asyncio.create_task(asyncio.sleep(100))
    await clock.advance(40)
    assert clock.now() == 40 and not sleeper.done()
    clock.autojump = False
    await clock.advance(60)
    assert sleeper.done()


async def test_a_frozen_clock_idles_on_real_io():
    async with virtual_time(autojump=False) as clock:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, time.sleep, 0.02)  # a thread's result wakes the loop
        assert clock.now() == 0


async def test_ready_io_is_served_before_time_jumps(clock):
    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        right.setblocking(False)
        right.send(b"ping")
        assert await asyncio.wait_for(loop.sock_recv(left, 4), 10) == b"ping"
        assert clock.now() == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-1, "advance expected a non-negative number of seconds, got -1"),
        (float("nan"), "advance expected a non-negative number of seconds, got nan"),
        (float("inf"), "advance expected a non-negative number of seconds, got inf"),
        ("1", "advance expected a non-negative number of seconds, got '1'"),
    ],
)
async def test_advance_checks_its_seconds(clock, seconds, text):
    with pytest.raises(ValueError) as info:
        await clock.advance(seconds)
    assert str(info.value) == text


async def test_advance_needs_its_running_block():
    clock = virtual_time()
    with pytest.raises(
        RuntimeError, match="^advance expected a running virtual clock, got one not entered yet$"
    ):
        await clock.advance(1)
    async with clock:
        pass
    with pytest.raises(
        RuntimeError,
        match="^advance expected a running virtual clock, got one whose block has ended$",
    ):
        await clock.advance(1)


# -- installing and restoring --------------------------------------------------------------


async def test_the_loop_is_restored_exactly_afterwards():
    loop = asyncio.get_running_loop()
    selector = loop._selector
    before = (dict(vars(loop)), dict(vars(selector)))
    async with virtual_time() as clock:
        assert loop.time() == 0
        await asyncio.sleep(86400 * 30)
    assert (dict(vars(loop)), dict(vars(selector))) == before
    assert "time" not in vars(loop) and "select" not in vars(selector)
    assert abs(loop.time() - time.monotonic()) < 1  # real again
    assert clock.now() == 86400 * 30  # where time stopped
    await asyncio.sleep(0.001)  # and the real loop still runs


async def test_the_loop_is_restored_when_the_block_raises():
    loop = asyncio.get_running_loop()
    with pytest.raises(KeyError):
        async with virtual_time():
            await asyncio.sleep(5)
            raise KeyError("boom")
    assert "time" not in vars(loop) and "select" not in vars(loop._selector)
    assert abs(loop.time() - time.monotonic()) < 1


async def test_pending_timers_keep_what_is_left_of_their_delay_across_the_block():
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    early = loop.call_later(0.5, fired.append, "early, real")
    late = loop.call_later(100, fired.append, "late, real")
    async with virtual_time() as clock:
        inside = loop.call_later(100, fired.append, "inside, virtual")
        assert 99 < late.when() - loop.time() <= 100
        await asyncio.sleep(30)
        assert fired == ["early, real"]  # moved onto virtual time: fired at 0.5, in order
        assert clock.now() == 30
    real = loop.time()
    assert 69 < late.when() - real <= 70  # 100 - 30: what was left, now real seconds again
    assert inside.when() - real == pytest.approx(70)
    for handle in (early, late, inside):
        handle.cancel()


async def test_a_clock_runs_one_block_only():
    clock = virtual_time()
    async with clock:
        with pytest.raises(
            RuntimeError, match="^a virtual clock runs one block only, got one already running$"
        ):
            async with clock:
                pass
    with pytest.raises(
        RuntimeError, match="^a virtual clock runs one block only, got one whose block has ended$"
    ):
        async with clock:
            pass


async def test_virtual_time_does_not_nest(clock):
    with pytest.raises(
        RuntimeError, match="^virtual_time expected a loop on real time, got one already virtual$"
    ):
        async with virtual_time():
            pass
    await asyncio.sleep(1)
    assert clock.now() == 1  # the outer block is untouched


def test_uvloop_is_refused_naming_its_type():
    uvloop = pytest.importorskip("uvloop")

    async def enter() -> None:
        async with virtual_time():
            pass

    loop = uvloop.new_event_loop()
    try:
        with pytest.raises(RuntimeError) as info:
            loop.run_until_complete(enter())
    finally:
        loop.close()
    assert (
        str(info.value) == "virtual_time expected an asyncio selector event loop, got uvloop.Loop"
    )


def test_the_clock_is_exported():
    import shallot_ws.testing

    assert shallot_ws.testing.virtual_time is virtual_time
    assert shallot_ws.testing.VirtualClock is VirtualClock
    assert repr(VirtualClock()) == "<VirtualClock new now=0.0 autojump=True>"


async def test_time_monotonic_stays_real(clock):
    # Only the loop's clock is virtual: code reading time.monotonic() sees real time.
    before = time.monotonic()
    await asyncio.sleep(3600)
    assert time.monotonic() - before < 1


async def test_by_default_a_handler_that_reads_late_loses_no_frame(clock, caplog):
    # No default drops a frame: a stream that has not asked for a frame for an hour, with
    # its buffer and the server's queue full, still gets every frame, the last included.
    got: list[str] = []

    @websocket(max_buffered=2)
    async def late(scope, receiver):
        yield ws_send("ready")
        await asyncio.sleep(3600)  # reads nothing for an hour
        async for frame in receiver:
            got.append(frame)
        yield ws_send(f"{len(got)} {receiver.dropped}")

    async with connect(late, timeout=7200, queue_size=2) as ws:
        assert await ws.receive() == "ready"
        for index in range(20):  # pushed back, never dropped
            await ws.send(str(index))
        assert clock.now() == 3600  # the sends waited for the reader, an hour
        await ws.send("last")
        await ws.close()
    assert got == [*map(str, range(20)), "last"]
    assert "dropping frames" not in caplog.text
