"""Fan-out in-process: one publish to 1,000 subscribed connections, and one slow subscriber.

Two peers serve the same room: every connection subscribes to one channel and sends each
published message to its client, until the client leaves.

* ``shallot_ws``: ``@websocket`` handler that merges the receiver with a subscription of
  ``shallot_ws.broadcast.Broadcast("memory://")`` (buffer 100, ``drop_oldest``) and yields
  ``ws_send`` for each message of the feed;
* ``broadcaster + Starlette``: encode's ``broadcaster`` (``Broadcast("memory://")``) with a
  Starlette ``WebSocket`` endpoint written as broadcaster's README does: one task forwards
  ``broadcast.subscribe(channel)`` to ``send_text``, another reads the socket until the
  client leaves, and cancels the first.

A fake server drives each app in-process: ``receive()`` answers the connect, then waits until
the client leaves; ``send()`` records when the published message reached it. Measured: the
seconds from the call to ``publish`` until the LAST of C connections has sent the message
(``--publishes`` publishes per set of connections, one after the other, each timed alone;
a round's figure is their median). Then the same with one more connection whose client never
reads: its ``send()`` of a message waits until the client leaves, as a server's send waits
for a client that has stopped reading. That slow subscriber must not delay the others.

Optionally (``--held K``, untimed, under ``tracemalloc``): the memory the slow subscriber
holds after K publishes, i.e. traced memory after K publishes with one fast and one slow
connection, minus the same with the fast connection alone. broadcaster's subscriber queues
are unbounded; shallot_ws's subscriptions are bounded.

The peers run interleaved, round by round, in rotated order, each round with new connections
and a new broadcast, all torn down at its end (every client leaves, every task finishes).
Ratios are medians of per-round ratios of speeds: above 1.00x, shallot_ws is faster.

Run: ``python3 benchmarks/fanout_inprocess.py [--connections C] [--rounds R]
[--publishes P] [--held K]``.
"""

from __future__ import annotations

import asyncio
import gc
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
import broadcaster
from starlette.websockets import WebSocket

from benchmarks._peers import (
    CONNECT,
    DISCONNECT,
    SHALLOT_WS,
    ASGIApp,
    Message,
    markdown_table,
    median_ratios,
    rotated,
    websocket_scope,
)
from benchmarks._runner import Count, parse_counts, rounds, show_table
from shallot_ws import websocket, ws_send
from shallot_ws.broadcast import Broadcast
from shallot_ws.merge import merge

BROADCASTER = "broadcaster + Starlette"
PEERS = (SHALLOT_WS, BROADCASTER)
CHANNEL = "room"
PLAIN, SLOW = "plain", "1 slow"
WARMUP_CONNECTIONS = 50
SETTLE_ITERATIONS = 10  # loop iterations for every connection to reach its waiting point
TIMEOUT = 30.0  # seconds for any one step: a hang is a failure, not a slow result


# -- the fake server ---------------------------------------------------------------------------


class Tally:
    """What the fast clients got of the message now being fanned out."""

    __slots__ = ("done", "expected", "remaining", "wrong")

    def __init__(self) -> None:
        self.expected: str | None = None
        self.remaining = 0
        self.wrong = 0
        self.done: asyncio.Future[float] | None = None

    def expect(self, text: str, count: int) -> asyncio.Future[float]:
        self.expected = text
        self.remaining = count
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def delivered(self, text: str) -> None:
        if text != self.expected:
            self.wrong += 1
            return
        self.remaining -= 1
        if not self.remaining and self.done is not None:
            self.done.set_result(time.perf_counter())


class Client:
    """The fake server's side of one connection: connect, then silence until ``leave()``.

    A fast client counts each message into the tally. A slow one never reads: its first
    message's ``send()`` waits until the client leaves. After that, ``send()`` returns at
    once and delivers nothing, as a server does for a connection that is gone.
    """

    __slots__ = ("accepted", "connected", "gone", "slow", "tally")

    def __init__(self, tally: Tally, slow: bool = False) -> None:
        self.tally = tally
        self.slow = slow
        self.connected = False
        self.accepted = False
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return CONNECT
        await self.gone
        return DISCONNECT

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            if self.gone.done():
                return
            if self.slow:
                await self.gone
                return
            self.tally.delivered(message["text"])
        elif kind == "websocket.accept":
            self.accepted = True

    def leave(self) -> None:
        if not self.gone.done():
            self.gone.set_result(None)


# -- the peers ----------------------------------------------------------------------------------
#
# Each peer is a factory: ``async with peer() as (app, publish, subscribers)`` gives an ASGI app
# bound to a new broadcast, the broadcast's publish, and how many subscribe to the channel now.

Publish = Callable[[str, Any], Any]
Peer = Callable[[], Any]


@asynccontextmanager
async def shallot_ws_peer() -> AsyncIterator[tuple[ASGIApp, Publish, Callable[[], int]]]:
    broadcast = Broadcast("memory://")

    @websocket
    async def room(scope, receiver):
        async with (
            broadcast.subscribe(CHANNEL, buffer=100, policy="drop_oldest") as feed,
            merge(receiver, feed=feed) as events,
        ):
            async for source, item in events:
                if source == "feed":
                    yield ws_send(item)

    yield room, broadcast.publish, lambda: broadcast.subscribers(CHANNEL)


@asynccontextmanager
async def broadcaster_peer() -> AsyncIterator[tuple[ASGIApp, Publish, Callable[[], int]]]:
    async with broadcaster.Broadcast("memory://") as broadcast:

        async def sender(websocket_: WebSocket) -> None:
            async with broadcast.subscribe(channel=CHANNEL) as subscriber:
                async for event in subscriber:
                    await websocket_.send_text(event.message)

        async def receiver(websocket_: WebSocket) -> None:
            async for _ in websocket_.iter_text():
                pass

        async def room(scope: dict[str, Any], receive: Any, send: Any) -> None:
            websocket_ = WebSocket(scope, receive, send)
            await websocket_.accept()
            async with anyio.create_task_group() as task_group:

                async def run_receiver() -> None:  # run until the first is complete
                    await receiver(websocket_)
                    task_group.cancel_scope.cancel()

                task_group.start_soon(run_receiver)
                await sender(websocket_)

        def subscribers() -> int:
            # broadcaster has no public count of subscribers: its queues per channel
            return len(broadcast._subscribers.get(CHANNEL, ()))

        yield room, broadcast.publish, subscribers


PEER_FACTORIES: dict[str, Peer] = {SHALLOT_WS: shallot_ws_peer, BROADCASTER: broadcaster_peer}


# -- one set of connections ------------------------------------------------------------------------


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Let the loop run until ``condition()`` holds, then a few iterations more for what was
    scheduled meanwhile; fail after ``TIMEOUT`` seconds."""
    deadline = time.perf_counter() + TIMEOUT
    while not condition():
        if time.perf_counter() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0)
    for _ in range(SETTLE_ITERATIONS):
        await asyncio.sleep(0)


@asynccontextmanager
async def room_of(
    peer: str, fast: int, slow: int, tally: Tally
) -> AsyncIterator[tuple[Publish, list[Client]]]:
    """``fast`` + ``slow`` connections to ``peer``'s room, all subscribed; on exit every
    client leaves, and every task, the broadcast's own included, must have finished."""
    current = asyncio.current_task()
    before = asyncio.all_tasks() - {current}
    clients = [Client(tally) for _ in range(fast)] + [Client(tally, True) for _ in range(slow)]
    async with PEER_FACTORIES[peer]() as (app, publish, subscribers):
        tasks = [
            asyncio.create_task(app(websocket_scope("/room"), client.receive, client.send))
            for client in clients
        ]
        try:
            await wait_for(lambda: subscribers() == len(clients), f"{len(clients)} subscribers")
            assert all(client.accepted for client in clients), "a connection was not accepted"
            yield publish, clients
        finally:
            for client in clients:
                client.leave()
            done, pending = await asyncio.wait(tasks, timeout=TIMEOUT)
            for task in pending:
                task.cancel()
        assert not pending, f"{len(pending)} of {len(tasks)} connections still running at the end"
        failed = [task.exception() for task in done if task.exception() is not None]
        assert not failed, f"{len(failed)} connections raised, first: {failed[0]!r}"
        assert subscribers() == 0, f"{subscribers()} subscriptions left after every client left"
    left = asyncio.all_tasks() - before - {current}
    if left:
        await asyncio.wait(left, timeout=TIMEOUT)  # cancelled just now: let them finish
        running = [task for task in left if not task.done()]
        assert not running, f"{len(running)} tasks left running, first: {running[0]!r}"


async def fan_out(peer: str, fast: int, slow: int, publishes: int) -> float:
    """The median over ``publishes`` publishes of the seconds until all ``fast`` connections
    have sent the message, with ``slow`` non-reading connections beside them."""
    tally = Tally()
    seconds = []
    async with room_of(peer, fast, slow, tally) as (publish, _):
        for n in range(publishes):
            text = f"message {n} of the fan-out benchmark"
            done = tally.expect(text, fast)
            gc.collect()
            start = time.perf_counter()
            await publish(CHANNEL, text)
            last = await asyncio.wait_for(done, TIMEOUT)
            seconds.append(last - start)
    assert not tally.wrong, f"{tally.wrong} messages other than the one published were sent"
    return statistics.median(seconds)


async def held_bytes(peer: str, slow: int, publishes: int) -> int:
    """Traced bytes held after ``publishes`` publishes, each sent by one fast connection
    before the next, with ``slow`` non-reading connections beside it. What the room held
    before is not counted; tracemalloc must be tracing."""
    tally = Tally()
    async with room_of(peer, 1, slow, tally) as (publish, _):
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for n in range(publishes):
            text = f"message {n:08d} of the memory benchmark: a line of chat text".ljust(100)
            done = tally.expect(text, 1)
            await publish(CHANNEL, text)
            await asyncio.wait_for(done, TIMEOUT)
        tally.expect("", 0)  # the tally lets go of the last message
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    assert not tally.wrong, f"{tally.wrong} messages other than the one published were sent"
    return held


# -- the benchmark -------------------------------------------------------------------------------


async def measure(
    connections: int, rounds: int, publishes: int
) -> dict[str, dict[str, list[float]]]:
    """Fan-outs per second, per scenario and peer, one entry per round."""
    for peer in PEERS:  # warm up
        await fan_out(peer, WARMUP_CONNECTIONS, 1, publishes)
    rates: dict[str, dict[str, list[float]]] = {
        scenario: {peer: [] for peer in PEERS} for scenario in (PLAIN, SLOW)
    }
    for round_ in range(rounds):
        for peer in rotated(PEERS, round_):
            for scenario, slow in rotated([(PLAIN, 0), (SLOW, 1)], round_):
                rates[scenario][peer].append(1 / await fan_out(peer, connections, slow, publishes))
    return rates


async def measure_held(publishes: int) -> dict[str, float]:
    """Bytes the slow subscriber holds after ``publishes`` publishes, per peer: what a room
    with it holds minus what the same room without it holds."""
    held = {}
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        for peer in PEERS:
            with_slow = await held_bytes(peer, 1, publishes)
            held[peer] = with_slow - await held_bytes(peer, 0, publishes)
    finally:
        if not tracing:
            tracemalloc.stop()
    return held


def report(
    rates: dict[str, dict[str, list[float]]],
    connections: int,
    held: dict[str, float] | None = None,
    held_publishes: int = 0,
) -> str:
    ratios = {scenario: median_ratios(rates[scenario]) for scenario in rates}
    header = [
        "peer",
        f"ms to the last of {connections:,}",
        "shallot_ws / peer",
        "ms, with 1 slow subscriber",
        "shallot_ws / peer",
        "with / without it",
    ]
    if held is not None:
        header.append(f"held by the slow one after {held_publishes:,} publishes")
    rows = []
    for peer in PEERS:
        plain = statistics.median(rates[PLAIN][peer])
        slow = statistics.median(rates[SLOW][peer])
        slowed = statistics.median(
            p / s for p, s in zip(rates[PLAIN][peer], rates[SLOW][peer], strict=True)
        )
        row = [
            peer,
            f"{1000 / plain:.2f}",
            "-" if peer == SHALLOT_WS else f"{ratios[PLAIN][peer]:.2f}x",
            f"{1000 / slow:.2f}",
            "-" if peer == SHALLOT_WS else f"{ratios[SLOW][peer]:.2f}x",
            f"{slowed:.2f}x",
        ]
        if held is not None:
            row.append(f"{held[peer] / 1024:,.0f} KiB")
        rows.append(row)
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> str:
    args = parse_counts(
        __doc__,
        argv,
        Count(("--connections",), 1000, "fast subscribers"),
        rounds(21),
        Count(("--publishes",), 5, "timed publishes per round"),
        Count(("--held",), 10000, "publishes before the slow one's memory (0: skip)", least=0),
    )
    print(
        f"fan-out in-process: 1 publish to {args.connections} connections (+ 1 slow), "
        f"{args.publishes} publishes x {args.rounds} rounds per peer, "
        f"Python {platform.python_version()}; ratios are medians of per-round ratios"
    )
    rates = asyncio.run(measure(args.connections, args.rounds, args.publishes))
    held = asyncio.run(measure_held(args.held)) if args.held else None
    return show_table(report(rates, args.connections, held, args.held))


if __name__ == "__main__":
    main()
