"""Echo throughput behind fast servers: does shallot_ws keep up with a raw ASGI loop behind
granian, uvicorn and hypercorn, and stay ahead of Starlette and Litestar?

Each peer (shallot_ws, a raw ASGI loop, Starlette, Litestar; see ``_peers.py``) runs behind
each server, one process per pair, all started at once on free ports of 127.0.0.1:

- granian, ``--interface asgi`` (ASGI with lifespan), one worker, ``--loop asyncio``;
- granian again with ``--loop uvloop``, when uvloop is installed;
- uvicorn, single process, ``--loop uvloop`` (``asyncio`` without uvloop), ``--ws
  websockets-sansio`` (its defaults when websockets and uvloop are installed);
- hypercorn, ``--workers 0`` (the app in the process started), its asyncio worker.

The load comes from ``_load.py``: picows connections (frame parsing in C, one callback a
frame, no task or future) in ``--clients`` processes on uvloop, so that the server, not the
client, is the bottleneck; the CPU table says how busy both were. Two shapes:

- ping-pong: C connections, each sends a 20-byte text frame and waits for its echo before it
  sends the next: the handler always waits for a frame that has not arrived yet;
- pipelined: C connections, each keeping D frames in flight (the next frame goes out when an
  echo comes back): frames wait for the handler.

A window: connect (not timed), echo for a fifth of the window (not timed), then count the
echoes that come back within ``--ms`` milliseconds; every echo is checked. Every case
(server, peer, shape) gets one window a round, in a rotated order, ``--rounds`` times; the
peers behind one server are measured one after the other, and every ratio is the median of
per-round ratios between them.

Two tables. Throughput: msgs/s is echoes a second, all connections together; raw ASGI's
median, each framework's speed relative to it, and the targets. Server CPU: the CPU time of
the server's processes over the window (all their threads: granian's Rust threads too) per
echo, and the same targets judged on speed per CPU second (the inverse); then how busy the
server was, its CPU time over the window's length (the least and the most of the four peers;
granian can pass 100%, its Rust threads running beside Python), and the busiest client
process (the median of the row's windows). A server well under 100% waited: for the client,
or for a core that other work held. With the client and the server on the same 2 cores and
other work coming and going, throughput swings between runs: a ratio by about ±10%
(shallot_ws / raw, ping-pong behind granian on asyncio: 0.94x, 1.12x, 0.99x in three runs of
one day). The CPU a message costs the server does not depend on how much of a core the
server got, and it is what throughput follows when the server has a core to itself; but it
moves too (how many messages one wake-up handles changes with the timing), by about as much
in some rows.

Targets (issue 14): behind every server and in both shapes, shallot_ws at least 0.90x the
raw ASGI loop, and ahead of (more than 1.00x) Starlette and Litestar. The line under the
tables counts the targets met in each table.

Run: ``python3 benchmarks/echo_servers.py [-c C] [--depth D] [--ms MS] [--clients P]
[--rounds R]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._load import Clients, clients
from benchmarks._peers import (
    LITESTAR,
    RAW,
    SERVED,
    SHALLOT_WS,
    STARLETTE,
    interleaved,
    markdown_table,
    median_ratios,
    verdict,
)
from benchmarks._runner import Count, parse_counts, rounds, show_table
from benchmarks._serving import HOST, cpu_seconds, free_port, start, stop, wait_until_listening

PEERS = (SHALLOT_WS, RAW, STARLETTE, LITESTAR)
TARGET_VS_RAW = 0.90
TARGET_VS_FRAMEWORKS = 1.00  # shallot_ws must be ahead: strictly above
FRAMEWORKS = (STARLETTE, LITESTAR)
ECHOERS = (RAW, SHALLOT_WS, *FRAMEWORKS)  # the order of the CPU table's columns
PING_PONG, PIPELINED = "ping-pong", "pipelined"
HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


# -- the servers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """A server: its name in the table, the distribution whose version is shown, and its
    command line for an app target (``module:attribute``) on a port."""

    name: str
    distribution: str
    command: Callable[[str, int], list[str]]


def granian(loop: str) -> Server:
    """granian's ASGI interface (lifespan included) on ``loop``, one worker process."""

    def command(app: str, port: int) -> list[str]:
        return [
            sys.executable, "-m", "granian", "--interface", "asgi", "--loop", loop,
            "--workers", "1", "--host", HOST, "--port", str(port), "--log-level", "warning",
            app,
        ]  # fmt: skip

    return Server(f"granian ({loop})", "granian", command)


def uvicorn_command(app: str, port: int) -> list[str]:
    """uvicorn in one process, on uvloop when it is installed, websockets' sans-I/O protocol."""
    return [
        sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port),
        "--loop", "uvloop" if HAS_UVLOOP else "asyncio", "--ws", "websockets-sansio",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def hypercorn_command(app: str, port: int) -> list[str]:
    """hypercorn with the app in the process started (``--workers 0``), on asyncio."""
    return [
        sys.executable, "-m", "hypercorn", app, "--bind", f"{HOST}:{port}", "--workers", "0",
        "--log-level", "warning",
    ]  # fmt: skip


SERVERS = (
    granian("asyncio"),
    *((granian("uvloop"),) if HAS_UVLOOP else ()),
    Server("uvicorn", "uvicorn", uvicorn_command),
    Server("hypercorn", "hypercorn", hypercorn_command),
)


@dataclass(frozen=True)
class Running:
    """A started server: its process (whose CPU time is read) and the URI to connect to."""

    process: subprocess.Popen[bytes]
    uri: str


@contextlib.contextmanager
def servers(peers: Sequence[str]) -> Iterator[dict[tuple[str, str], Running]]:
    """Every server serving every peer, each pair its own process on its own free port;
    yields (server name, peer) -> the running server."""
    started: dict[tuple[str, str], tuple[Running, int, IO[bytes]]] = {}
    with contextlib.ExitStack() as logs:
        try:
            for server in SERVERS:
                for peer in peers:
                    port = free_port()
                    log = logs.enter_context(tempfile.TemporaryFile())
                    process = start(server.command(SERVED[peer], port), log)
                    running = Running(process, f"ws://{HOST}:{port}/")
                    started[server.name, peer] = (running, port, log)
            for (name, peer), (running, port, log) in started.items():
                wait_until_listening(running.process, port, log, f"{name} serving {peer}")
            yield {key: running for key, (running, _, _) in started.items()}
        finally:
            for running, _, _ in started.values():
                stop(running.process)


# -- the measurement --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """What one window measures: a peer behind a server, in a shape."""

    server: str
    peer: str
    shape: str

    def __str__(self) -> str:
        return f"{self.server} / {self.peer} / {self.shape}"


@dataclass
class Results:
    """Per case, one entry a round: msgs/s, the server's CPU microseconds per echo, and the
    share of a core the server and the busiest client process used."""

    rates: dict[str, list[float]]
    cpu_per_echo: dict[str, list[float]]
    server_busy: dict[str, list[float]]
    client_busy: dict[str, list[float]]


def measure(
    load: Clients,
    running: dict[tuple[str, str], Running],
    cases: Sequence[Case],
    depths: dict[str, int],
    connections: int,
    seconds: float,
    rounds: int,
) -> Results:
    """Every case once a round, rotated, ``rounds`` times."""
    by_name = {str(case): case for case in cases}
    cpu_per_echo: dict[str, list[float]] = {name: [] for name in by_name}
    server_busy: dict[str, list[float]] = {name: [] for name in by_name}
    client_busy: dict[str, list[float]] = {name: [] for name in by_name}

    async def rate(name: str) -> float:
        case = by_name[name]
        server = running[case.server, case.peer]
        before: list[float] = []
        window = load.run(
            server.uri,
            connections,
            depths[case.shape],
            seconds,
            warmup=seconds / 5,
            between=lambda: before.append(cpu_seconds(server.process.pid)),
        )
        used = cpu_seconds(server.process.pid) - before[0]
        cpu_per_echo[name].append(used / window.echoes * 1e6)
        server_busy[name].append(used / seconds)
        client_busy[name].append(window.client_busy)
        return window.rate

    rates = asyncio.run(interleaved(list(by_name), rounds, rate))
    return Results(rates, cpu_per_echo, server_busy, client_busy)


# -- the table --------------------------------------------------------------------------------


def ratio_cell(ratio: float, passed: bool | None = None) -> str:
    """``0.95x``, followed by the verdict when the ratio has a target."""
    return f"{ratio:.2f}x" + ("" if passed is None else f" {verdict(passed)}")


def judged(speeds: dict[str, list[float]]) -> tuple[list[str], list[bool]]:
    """The target cells of a row, from one speed a round per peer: shallot_ws / raw, then
    shallot_ws / each framework (medians of per-round ratios); and each target's verdict."""
    mine = median_ratios(speeds, SHALLOT_WS)
    checks = [mine[RAW] >= TARGET_VS_RAW]
    checks += [mine[framework] > TARGET_VS_FRAMEWORKS for framework in FRAMEWORKS]
    ratios = [mine[RAW], *(mine[framework] for framework in FRAMEWORKS)]
    return [ratio_cell(*pair) for pair in zip(ratios, checks, strict=True)], checks


TARGET_HEADERS = [
    f"shallot_ws / raw (>= {TARGET_VS_RAW:.2f}x)",
    *(f"shallot_ws / {framework} (> {TARGET_VS_FRAMEWORKS:.2f}x)" for framework in FRAMEWORKS),
]


def tables(results: Results, shapes: Sequence[str]) -> tuple[str, str, int, int, int]:
    """The throughput table and the server CPU table, one row a (shape, server) in each; then
    how many targets each table has (the same number) and how many passed in each.

    Throughput: raw ASGI's median msgs/s, each peer's speed relative to it, and the targets.
    Server CPU: each peer's median microseconds per echo, the same targets judged on speed per
    CPU second (the inverse, ratio taken a round at a time), and how busy the server was."""
    rate_rows, cpu_rows, passed_rates, passed_cpu = [], [], 0, 0
    for shape in shapes:
        for server in SERVERS:
            names = {peer: str(Case(server.name, peer, shape)) for peer in PEERS}
            rates = {peer: results.rates[name] for peer, name in names.items()}
            cells, checks = judged(rates)
            passed_rates += sum(checks)
            to_raw = {peer: median_ratios(rates, peer)[RAW] for peer in FRAMEWORKS}
            rate_rows.append(
                [
                    shape,
                    server.name,
                    f"{statistics.median(rates[RAW]):,.0f}",
                    *(ratio_cell(to_raw[framework]) for framework in FRAMEWORKS),
                    *cells,
                ]
            )
            cpu = {peer: results.cpu_per_echo[name] for peer, name in names.items()}
            cells, checks = judged({peer: [1 / each for each in cpu[peer]] for peer in PEERS})
            passed_cpu += sum(checks)
            busy = [statistics.median(results.server_busy[name]) for name in names.values()]
            client = statistics.median(
                share for name in names.values() for share in results.client_busy[name]
            )
            cpu_rows.append(
                [
                    shape,
                    server.name,
                    *(f"{statistics.median(cpu[peer]):.1f}" for peer in ECHOERS),
                    *cells,
                    f"{percent(min(busy))} to {percent(max(busy))}",
                    percent(client),
                ]
            )
    rate_table = markdown_table(
        [
            "shape",
            "server",
            "raw ASGI msgs/s",
            *(f"{framework} / raw" for framework in FRAMEWORKS),
            *TARGET_HEADERS,
        ],
        rate_rows,
    )
    cpu_table = markdown_table(
        [
            "shape",
            "server",
            *(f"{peer} µs/echo" for peer in ECHOERS),
            *TARGET_HEADERS,
            "server busy",
            "client busy",
        ],
        cpu_rows,
    )
    targets = len(rate_rows) * len(TARGET_HEADERS)
    return rate_table, cpu_table, targets, passed_rates, passed_cpu


def percent(share: float) -> str:
    """A share of one core as a whole percentage: ``0.815`` -> ``82%``."""
    return f"{share * 100:.0f}%"


def main(argv: list[str] | None = None) -> str:
    args = parse_counts(
        __doc__,
        argv,
        Count(("-c", "--connections"), 8, "connections (C)"),
        Count(("--depth",), 16, "frames in flight per connection when pipelined (D)"),
        Count(("--ms",), 1000, "milliseconds of a timed window"),
        Count(("--clients",), 1, "client processes (P), at most C"),
        rounds(7),
    )
    processes = min(args.clients, args.connections)
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in dict.fromkeys(server.distribution for server in SERVERS)
    )
    if HAS_UVLOOP:
        versions += f" (uvloop {importlib.metadata.version('uvloop')})"
    print(
        f"echo behind {versions}: "
        f"{args.connections} connections, ping-pong and {args.depth} frames in flight, "
        f"{args.ms} ms windows x {args.rounds} rounds per case, "
        f"{processes} picows {importlib.metadata.version('picows')} client process(es); "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; ratios are medians of per-round ratios"
    )
    depths = {PING_PONG: 1, PIPELINED: args.depth}
    cases = [
        Case(server.name, peer, shape) for shape in depths for server in SERVERS for peer in PEERS
    ]
    with servers(PEERS) as running, clients(processes) as load:
        results = measure(
            load, running, cases, depths, args.connections, args.ms / 1000, args.rounds
        )
    rate_table, cpu_table, targets, passed_rates, passed_cpu = tables(results, list(depths))
    shown = show_table(f"{rate_table}\n\n{cpu_table}")
    print()
    print(
        f"Targets met: {passed_rates} of {targets} on throughput, {passed_cpu} of {targets} on "
        f"server CPU per echo. Load average at the end {os.getloadavg()[0]:.1f}."
    )
    return shown


if __name__ == "__main__":
    main()
