"""What observability costs, in-process: the echo with metrics and traces off and on.

The same routed echo (``router([("/rooms/{room}", echo)])``, at /rooms/lobby) gets the same
text frames on one connection, through a fake server that never makes the app wait (as in
``echo_inprocess.py``), four ways:

* ``off``: the router as it is: nothing of shallot_ws.observability runs (off is free);
* ``metrics``: ``instrument(app, Metrics())``: every frame counted, per route;
* ``metrics + traces``: and a span per connection (``Tracing`` on an OpenTelemetry SDK
  ``TracerProvider`` with no exporter);
* ``metrics + traces + events``: and a span event per frame (``message_events=True``).

An exporter adds nothing per frame (Prometheus and OpenTelemetry read the numbers when they
collect), so none is attached. A second table times whole connections (connect, one frame,
disconnect) the same four ways: what a connection's bookkeeping and its span cost. Peers
are interleaved round by round; ratios to ``off`` are medians of per-round ratios.

No targets here: with a fake server that costs nothing, the wrapper's own work per frame
(one more coroutine for ``receive``, two integer additions each way, the UTF-8 size of a
text) is all there is to compare, which shows what it costs and not what a service would
notice; ``instrumented_hypercorn.py`` measures that, behind a real server. The traces (a
span per connection) cost nothing per frame; the events cost what OpenTelemetry's
``add_event`` costs, per frame.

Run: ``python3 benchmarks/instrumented_inprocess.py [--frames N] [--connections C]
[--rounds R]``.
"""

from __future__ import annotations

import asyncio
import functools
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.sdk.trace import TracerProvider

from benchmarks._peers import (
    CONNECT,
    DISCONNECT,
    interleaved,
    markdown_table,
    median_ratios,
    verdict,
    websocket_scope,
)
from benchmarks._runner import Count, parse_counts, rounds, show_table
from benchmarks.echo_inprocess import echo_once
from shallot_ws import router, ws_send
from shallot_ws.observability import Metrics, instrument
from shallot_ws.observability.otel import Tracing

OFF, METRICS, TRACES, EVENTS = "off", "metrics", "metrics + traces", "metrics + traces + events"
PEERS = (OFF, METRICS, TRACES, EVENTS)
PATH = "/rooms/lobby"


async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


def apps() -> dict[str, Any]:
    """The four apps, each with metrics and a tracer of its own."""
    provider = TracerProvider()  # spans made and ended, exported nowhere
    table = [("/rooms/{room}", echo)]
    return {
        OFF: router(table),
        METRICS: instrument(router(table), Metrics()),
        TRACES: instrument(router(table), Metrics(), tracing=Tracing(provider)),
        EVENTS: instrument(
            router(table), Metrics(), tracing=Tracing(provider, message_events=True)
        ),
    }


# for ``hypercorn benchmarks.instrumented_inprocess:<attribute>`` (instrumented_hypercorn.py)
_served = apps()
off_app, metrics_app, traces_app = _served[OFF], _served[METRICS], _served[TRACES]


async def measure(frames: int, rounds: int) -> dict[str, list[float]]:
    """msgs/s per app, one entry per round."""
    payload = [f"frame {i:06d} of the instrumented echo" for i in range(frames)]
    served = apps()
    for peer in PEERS:  # warm up
        await echo_once(served[peer], payload[:1000], PATH)

    async def rate(peer: str) -> float:
        return frames / await echo_once(served[peer], payload, PATH)

    return await interleaved(PEERS, rounds, rate)


async def _next(events: Iterator[dict[str, Any]]) -> dict[str, Any]:
    return next(events, DISCONNECT)


async def connections_once(app: Any, count: int) -> float:
    """Serve ``count`` connections of one frame each through ``app``; return the seconds."""
    frame = {"type": "websocket.receive", "text": "one frame"}
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    start = time.perf_counter()
    for _ in range(count):
        events = iter((CONNECT, frame, DISCONNECT))
        await app(websocket_scope(PATH), functools.partial(_next, events), send)
    elapsed = time.perf_counter() - start
    assert len(sent) == 2 * count, f"expected an accept and an echo per connection: {sent[:3]}"
    return elapsed


async def measure_connections(count: int, rounds: int) -> dict[str, list[float]]:
    """Connections/s per app, one entry per round."""
    served = apps()
    for peer in PEERS:  # warm up
        await connections_once(served[peer], 50)

    async def rate(peer: str) -> float:
        return count / await connections_once(served[peer], count)

    return await interleaved(PEERS, rounds, rate)


def report(
    rates: dict[str, list[float]],
    targets: dict[str, float] | None = None,
    unit: str = "msgs/s",
    per: str = "message",
) -> str:
    """A row per peer: its median rate, its ratio to ``off``, the time it adds per ``per``,
    and its target if any."""
    rows = []
    for peer in rates:
        ratio = 1.0 if peer == OFF else median_ratios(rates, peer)[OFF]
        seconds = 1e6 / statistics.median(rates[peer]) - 1e6 / statistics.median(rates[OFF])
        target = (targets or {}).get(peer)
        rows.append(
            [
                peer,
                f"{statistics.median(rates[peer]):,.0f}",
                f"{ratio:.2f}x",
                "-" if peer == OFF else f"{seconds:+.2f} µs",
                "-" if target is None else f">= {target:.2f}x",
                "-" if target is None else verdict(ratio >= target),
            ]
        )
    header = ["peer", f"median {unit}", "vs off", f"per {per} vs off", "target", "verdict"]
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> str:
    args = parse_counts(
        __doc__,
        argv,
        Count(("--frames",), 20000, "frames per connection"),
        Count(("--connections",), 2000, "connections of one frame, for the second table"),
        rounds(9),
    )
    print(
        f"observability in-process: {args.frames} frames, then {args.connections} "
        f"connections, x {args.rounds} rounds per app, Python {platform.python_version()}; "
        "ratios are medians of per-round ratios"
    )
    frames = show_table(report(asyncio.run(measure(args.frames, args.rounds))))
    connections = asyncio.run(measure_connections(args.connections, args.rounds))
    return frames + "\n\n" + show_table(report(connections, None, "connections/s", "connection"))


if __name__ == "__main__":
    main()
