"""Memory held per idle connection: what each peer costs while its client says nothing.

In-process, under ``tracemalloc``: a fake server opens C connections to one peer (shallot_ws,
a raw ASGI loop, Starlette, shallot 2.0.0; see ``_peers.py``). Each is an app task that got
``websocket.connect``, accepted, and now waits in ``receive()`` on its own future, which
stays pending until the end. Measured: traced memory once all C are accepted and idle, minus
traced memory before they were opened, divided by C; the fake server's own share (task,
scope, future, two closures) is the same for every peer, so the difference against raw ASGI
is what the library holds. Then every connection is disconnected and every task must finish.

Each peer is measured ``--rounds`` times, interleaved, after a warm-up; the table shows the
median. Target: shallot_ws holds at most 3 KiB (3072 bytes) more than the raw loop.

Run: ``python3 benchmarks/idle_memory.py [--connections C] [--rounds R]``.
"""

from __future__ import annotations

import asyncio
import gc
import platform
import statistics
import sys
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._peers import (
    APPS,
    CONNECT,
    DISCONNECT,
    PEERS,
    RAW,
    SHALLOT_WS,
    ASGIApp,
    Message,
    interleaved,
    markdown_table,
    verdict,
    websocket_scope,
)
from benchmarks._runner import Count, parse_counts, rounds, show_table

TARGET_OVER_RAW = 3 * 1024  # bytes per connection
WARMUP_CONNECTIONS = 50
SETTLE_ITERATIONS = 10  # loop iterations to let callbacks scheduled at accept time run
FINISH_TIMEOUT = 30.0


class Connection:
    """The fake server's side of one connection: connect, then silence until ``leave()``."""

    __slots__ = ("accepted", "gone", "sent_after_accept")

    def __init__(self) -> None:
        self.accepted = False
        self.sent_after_accept = 0
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def receive(self) -> Message:
        if not self.accepted:
            return CONNECT
        # Idle: wait until the client leaves. After that, every receive() answers the
        # disconnect at once (shallot 2.0 asks again, to drain, after the disconnect).
        await self.gone
        return DISCONNECT

    async def send(self, message: Message) -> None:
        if message["type"] == "websocket.accept":
            self.accepted = True
        else:
            self.sent_after_accept += 1

    def leave(self) -> None:
        self.gone.set_result(None)


async def settle() -> None:
    for _ in range(SETTLE_ITERATIONS):
        await asyncio.sleep(0)


async def idle_bytes(app: ASGIApp, count: int) -> float:
    """Traced bytes held per connection while ``count`` connections to ``app`` are idle."""
    await settle()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]

    connections = [Connection() for _ in range(count)]
    tasks = [
        asyncio.create_task(app(websocket_scope(), connection.receive, connection.send))
        for connection in connections
    ]
    await settle()
    waiting = sum(not connection.accepted for connection in connections)
    assert not waiting, f"{waiting} of {count} connections were not accepted"
    running = sum(task.done() for task in tasks)
    assert not running, f"{running} of {count} connections ended while they should idle"
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before

    for connection in connections:
        connection.leave()
    done, pending = await asyncio.wait(tasks, timeout=FINISH_TIMEOUT)
    assert not pending, f"{len(pending)} of {count} tasks still running after the disconnect"
    failed = [task.exception() for task in done if task.exception() is not None]
    assert not failed, f"{len(failed)} connections raised, first: {failed[0]!r}"
    talked = sum(connection.sent_after_accept for connection in connections)
    assert not talked, f"{talked} messages sent to clients that had left"
    return held / count


async def measure(count: int, rounds: int) -> dict[str, list[float]]:
    """Bytes per idle connection per peer, one entry per round."""
    for peer in PEERS:
        await idle_bytes(APPS[peer], WARMUP_CONNECTIONS)
    return await interleaved(PEERS, rounds, lambda peer: idle_bytes(APPS[peer], count))


def report(held: dict[str, list[float]]) -> str:
    medians = {peer: statistics.median(values) for peer, values in held.items()}
    rows = []
    for peer in PEERS:
        over = medians[peer] - medians[RAW]
        targeted = peer == SHALLOT_WS
        rows.append(
            [
                peer,
                f"{medians[peer]:,.0f}",
                "-" if peer == RAW else f"{over:+,.0f}",
                f"<= +{TARGET_OVER_RAW:,}" if targeted else "-",
                verdict(over <= TARGET_OVER_RAW) if targeted else "-",
            ]
        )
    header = ["peer", "bytes / idle connection", "vs raw ASGI", "target", "verdict"]
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> str:
    args = parse_counts(
        __doc__, argv, Count(("--connections",), 2000, "idle connections"), rounds(3)
    )
    print(
        f"idle memory: {args.connections} connections x {args.rounds} rounds per peer, "
        f"Python {platform.python_version()}, tracemalloc; the median round is shown"
    )
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        held = asyncio.run(measure(args.connections, args.rounds))
    finally:
        if not tracing:
            tracemalloc.stop()
    return show_table(report(held))


if __name__ == "__main__":
    main()
