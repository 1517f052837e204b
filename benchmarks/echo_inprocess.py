"""Echo throughput in-process: the library's own cost per frame, with no network at all.

Each peer (shallot_ws, a raw ASGI loop, Starlette, shallot 2.0.0; see ``_peers.py``) serves
one connection from a fake server: ``receive()`` pops a pre-filled deque (connect, N text
frames, disconnect) and ``send()`` collects. Neither ever waits, so what is timed is the
peer's own work per frame. Every peer must have echoed all N frames, in order.

The peers run interleaved, round by round, each round in a rotated order, in one process:
this machine's speed drifts up to 2x between minutes, so absolute msgs/s only say roughly
how fast; the column to read is the median over rounds of the per-round ratio
shallot_ws/peer (above 1.00x: shallot_ws is faster). Targets: >= 1.1x shallot 2.0.0 and
>= 1.8x Starlette.

Run: ``python3 benchmarks/echo_inprocess.py [--frames N] [--rounds R]``.
"""

from __future__ import annotations

import asyncio
import gc
import platform
import sys
import time
from collections import deque
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._peers import (
    APPS,
    CONNECT,
    DISCONNECT,
    PEERS,
    SHALLOT2,
    STARLETTE,
    ASGIApp,
    Message,
    interleaved,
    ratio_table,
    websocket_scope,
)
from benchmarks._runner import Count, parse_counts, rounds, show_table

# shallot_ws/peer, at least
TARGETS = {SHALLOT2: 1.1, STARLETTE: 1.8}
WARMUP_FRAMES = 2000


async def echo_once(app: ASGIApp, frames: list[str], path: str = "/") -> float:
    """Push ``frames`` through ``app`` on one connection at ``path``; return the seconds."""
    pending: deque[Message] = deque([CONNECT])
    pending.extend({"type": "websocket.receive", "text": frame} for frame in frames)
    pending.append(DISCONNECT)
    popleft = pending.popleft
    sent: list[Message] = []
    append = sent.append

    async def receive() -> Message:
        if pending:
            return popleft()
        # Asked again after the disconnect: shallot 2.0 does, to drain, under
        # ``asyncio.wait_for(receive(), timeout=1)``. A server that blocks here would charge
        # it a one-second wait that is no work of its own, so answer at once, as a server
        # whose connection is gone does.
        return DISCONNECT

    async def send(message: Message) -> None:
        append(message)

    gc.collect()
    start = time.perf_counter()
    await app(websocket_scope(path), receive, send)
    elapsed = time.perf_counter() - start

    assert not pending, f"{len(pending)} events left unread"
    assert sent and sent[0]["type"] == "websocket.accept", f"not accepted: {sent[:1]!r}"
    echoed = [message.get("text") for message in sent[1:]]
    assert echoed == frames, f"echoed {len(echoed)} frames, expected the {len(frames)} sent"
    return elapsed


async def measure(frames: int, rounds: int) -> dict[str, list[float]]:
    """msgs/s per peer, one entry per round."""
    payload = [f"frame {i:06d} of the echo benchmark" for i in range(frames)]
    warmup = payload[:WARMUP_FRAMES]
    for peer in PEERS:
        await echo_once(APPS[peer], warmup)

    async def rate(peer: str) -> float:
        return frames / await echo_once(APPS[peer], payload)

    return await interleaved(PEERS, rounds, rate)


def main(argv: list[str] | None = None) -> str:
    args = parse_counts(
        __doc__, argv, Count(("--frames",), 20000, "frames per connection"), rounds(9)
    )
    print(
        f"echo in-process: {args.frames} frames x {args.rounds} rounds per peer, "
        f"Python {platform.python_version()}; ratios are medians of per-round ratios"
    )
    rates = asyncio.run(measure(args.frames, args.rounds))
    return show_table(ratio_table(rates, "median msgs/s", TARGETS, digits=1))


if __name__ == "__main__":
    main()
