"""Echo round trips over a real socket: is shallot_ws's cost visible behind a server?

Each peer (shallot_ws, a raw ASGI loop, Starlette, shallot 2.0.0; see ``_peers.py``) runs
behind its own single-process hypercorn (``--workers 0``: the app runs in the process that
was started, no worker subprocess) on 127.0.0.1. A ``websockets`` asyncio client, in this
process, takes the peers in turn, round by round, in a rotated order: per round and peer it
opens a connection and times K round trips (send a text frame, wait for its echo, check it),
without permessage-deflate so that only the server side differs. Connecting and closing are
not timed.

msgs/s is round trips per second. This machine's speed drifts between minutes, so read the
median over rounds of the per-round ratio shallot_ws/peer. Target: >= 0.95x the raw ASGI
loop, i.e. shallot_ws is invisible behind the server and the network stack. On 2 cores the
Python client costs as much CPU as the server, and the ratios swing by up to about ±8%
between runs (the same commit measured 0.93x to 1.09x); compare several runs.

Run: ``python3 benchmarks/echo_hypercorn.py [--round-trips K] [--rounds R]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from websockets.asyncio.client import connect

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._peers import PEERS, RAW, SERVED, interleaved, ratio_table
from benchmarks._runner import Count, parse_counts, rounds, show_table
from benchmarks._serving import HOST, free_port, start, stop, wait_until_listening

TARGET_VS_RAW = 0.95
WARMUP_ROUND_TRIPS = 200


# -- the servers -----------------------------------------------------------------------------


@contextlib.contextmanager
def servers(
    peers: tuple[str, ...],
    served: dict[str, str] = SERVED,
    path: str = "/",
    pids: dict[str, int] | None = None,
) -> Iterator[dict[str, str]]:
    """One hypercorn per peer (``served[peer]`` names its app as ``module:attribute``), each
    on its own free port; yields peer -> ws:// URI of ``path``, and fills ``pids`` (if
    given) with peer -> the server's process id."""
    processes: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as logs:
        try:
            uris = {}
            for peer in peers:
                port = free_port()
                log = logs.enter_context(tempfile.TemporaryFile())
                command = [
                    sys.executable, "-m", "hypercorn", served[peer],
                    "--bind", f"{HOST}:{port}", "--workers", "0", "--log-level", "warning",
                ]  # fmt: skip
                process = start(command, log)
                processes.append(process)
                if pids is not None:
                    pids[peer] = process.pid
                wait_until_listening(process, port, log)
                uris[peer] = f"ws://{HOST}:{port}{path}"
            yield uris
        finally:
            for process in processes:
                stop(process)


# -- the client ------------------------------------------------------------------------------


async def round_trips(uri: str, payload: list[str]) -> float:
    """Open a connection, echo every frame of ``payload`` one at a time; return the seconds."""
    async with connect(uri, compression=None) as client:
        start = time.perf_counter()
        for frame in payload:
            await client.send(frame)
            echoed = await client.recv()
            assert echoed == frame, f"sent {frame!r}, got back {echoed!r}"
        return time.perf_counter() - start


async def measure(uris: dict[str, str], count: int, rounds: int) -> dict[str, list[float]]:
    """Round trips per second per peer, one entry per round."""
    payload = [f"frame {i:06d} of the echo benchmark" for i in range(count)]
    for peer in PEERS:
        await round_trips(uris[peer], payload[:WARMUP_ROUND_TRIPS])

    async def rate(peer: str) -> float:
        return count / await round_trips(uris[peer], payload)

    return await interleaved(PEERS, rounds, rate)


def main(argv: list[str] | None = None) -> str:
    args = parse_counts(
        __doc__,
        argv,
        Count(("-k", "--round-trips"), 2000, "round trips per connection (K)"),
        rounds(9),
    )
    print(
        f"echo through hypercorn {importlib.metadata.version('hypercorn')}: "
        f"{args.round_trips} round trips x {args.rounds} rounds per peer, "
        f"Python {platform.python_version()}, websockets "
        f"{importlib.metadata.version('websockets')} client; "
        "ratios are medians of per-round ratios"
    )
    with servers(PEERS) as uris:
        rates = asyncio.run(measure(uris, args.round_trips, args.rounds))
    return show_table(ratio_table(rates, "median round trips/s", {RAW: TARGET_VS_RAW}, digits=2))


if __name__ == "__main__":
    main()
