"""What observability costs behind a real server: echo round trips through hypercorn with
metrics and traces off and on, and the server's CPU time for them.

The apps of ``instrumented_inprocess.py`` (``off``, ``metrics``, ``metrics + traces``: the
routed echo at /rooms/lobby), each behind its own single-process hypercorn on 127.0.0.1, are
timed as ``echo_hypercorn.py`` times its peers: a ``websockets`` client in this process, K
round trips per connection (send a text frame, wait for its echo), the peers interleaved
round by round. Two measures per round: round trips per second, and the server process's
CPU time per round trip (Linux: the sum of its threads' ``/proc/PID/task/*/schedstat`` run
times, in nanoseconds; ``-`` elsewhere), which the client's own noise touches less. Both
are given as medians, with the median of the per-round ratio (rate) or difference (CPU) to
``off``.

No targets: on 2 cores shared with the client (and, here, with other work) a round trip's
server CPU time swings by ±10% between rounds, more than what is measured; read several
runs. The wrapper's own cost per frame is what ``instrumented_inprocess.py`` isolates.

Run: ``python3 benchmarks/instrumented_hypercorn.py [--round-trips K] [--rounds R]``.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import platform
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._peers import markdown_table, rotated
from benchmarks._runner import Count, parse_counts, rounds, show_table
from benchmarks.echo_hypercorn import WARMUP_ROUND_TRIPS, round_trips, servers
from benchmarks.instrumented_inprocess import METRICS, OFF, PATH, TRACES

PEERS = (OFF, METRICS, TRACES)
SERVED = {
    OFF: "benchmarks.instrumented_inprocess:off_app",
    METRICS: "benchmarks.instrumented_inprocess:metrics_app",
    TRACES: "benchmarks.instrumented_inprocess:traces_app",
}


def cpu_ns(pid: int) -> int | None:
    """The CPU time process ``pid`` has run so far, in nanoseconds; ``None`` without /proc."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        total = 0
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


async def measure(
    uris: dict[str, str], pids: dict[str, int], count: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per peer, one entry per round: round trips per second, and server CPU µs per round
    trip (empty without /proc)."""
    payload = [f"frame {i:06d} of the instrumented echo" for i in range(count)]
    for peer in PEERS:
        await round_trips(uris[peer], payload[:WARMUP_ROUND_TRIPS])
    rates: dict[str, list[float]] = {peer: [] for peer in PEERS}
    cpu: dict[str, list[float]] = {peer: [] for peer in PEERS}
    for round_ in range(rounds):
        for peer in rotated(PEERS, round_):
            before = cpu_ns(pids[peer])
            rates[peer].append(count / await round_trips(uris[peer], payload))
            after = cpu_ns(pids[peer])
            if before is not None and after is not None:
                cpu[peer].append((after - before) / count / 1000)
    return rates, cpu


def report(rates: dict[str, list[float]], cpu: dict[str, list[float]]) -> str:
    rows = []
    for peer in PEERS:
        ratio = statistics.median(a / b for a, b in zip(rates[peer], rates[OFF], strict=True))
        used = cpu[peer]
        extra = [a - b for a, b in zip(used, cpu[OFF], strict=True)]
        rows.append(
            [
                peer,
                f"{statistics.median(rates[peer]):,.0f}",
                "-" if peer == OFF else f"{ratio:.2f}x",
                f"{statistics.median(used):.1f} µs" if used else "-",
                "-" if peer == OFF or not used else f"{statistics.median(extra):+.1f} µs",
            ]
        )
    header = ["peer", "round trips/s", "vs off", "server CPU per round trip", "vs off"]
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> str:
    args = parse_counts(
        __doc__,
        argv,
        Count(("-k", "--round-trips"), 2000, "round trips per connection (K)"),
        rounds(9),
    )
    print(
        f"observability behind hypercorn {importlib.metadata.version('hypercorn')}: "
        f"{args.round_trips} round trips x {args.rounds} rounds per app, "
        f"Python {platform.python_version()}; medians over rounds"
    )
    pids: dict[str, int] = {}
    with servers(PEERS, SERVED, PATH, pids) as uris:
        rates, cpu = asyncio.run(measure(uris, pids, args.round_trips, args.rounds))
    return show_table(report(rates, cpu))


if __name__ == "__main__":
    main()
