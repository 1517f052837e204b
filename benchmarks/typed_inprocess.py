"""What typed messages cost, in-process: a contract's echo against untyped JSON and Starlette.

Four apps echo the same JSON text frames (``{"type": "say", "room": ..., "text": ..., "n":
...}``) on one connection each, through a fake server that never makes the app wait (as in
``echo_inprocess.py``):

* ``msgspec contract``: ``contract(receives=Say, sends=Say)`` over a ``msgspec.Struct``: each
  frame decoded, validated, handed to the handler as a ``Say``, encoded on the way out;
* ``pydantic contract``: the same declaration with a pydantic v2 model;
* ``wrap_json``: the untyped ``wrap_json`` echo: ``json.loads`` in, ``json.dumps`` out, no
  validation;
* ``Starlette``: ``receive_json`` / ``send_json`` (the same stdlib JSON, no validation).

Targets: the msgspec contract at least as fast as ``wrap_json`` (1.0x: it validates too, and
msgspec decodes faster than ``json``). The pydantic path's cost is measured, not targeted.
Peers are interleaved round by round; ratios are medians of per-round ratios.

Run: ``python3 benchmarks/typed_inprocess.py [--frames N] [--rounds R]``.
"""

from __future__ import annotations

import asyncio
import json
import platform
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, Literal

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
import pydantic
from starlette.websockets import WebSocket, WebSocketDisconnect

from benchmarks._peers import (
    CONNECT,
    DISCONNECT,
    interleaved,
    ratio_table,
    websocket_scope,
)
from benchmarks._runner import Count, parse_counts, rounds, show_table
from shallot_ws import compose, websocket, wrap_json
from shallot_ws.contracts import contract

MSGSPEC, PYDANTIC, WRAP_JSON, STARLETTE = (
    "msgspec contract",
    "pydantic contract",
    "wrap_json",
    "Starlette",
)
PEERS = (MSGSPEC, PYDANTIC, WRAP_JSON, STARLETTE)
TARGETS = {WRAP_JSON: 1.0}  # msgspec contract / peer, at least


class Say(msgspec.Struct, tag="say"):
    room: str
    text: str
    n: int


class PydanticSay(pydantic.BaseModel):
    type: Literal["say"]
    room: str
    text: str
    n: int


async def typed_echo(scope: Any, receiver: Any) -> Any:
    async for message in receiver:
        yield message


async def starlette_json(scope: Any, receive: Any, send: Any) -> None:
    socket = WebSocket(scope, receive, send)
    await socket.accept()
    try:
        while True:
            await socket.send_json(await socket.receive_json())
    except WebSocketDisconnect:
        pass


APPS = {
    MSGSPEC: websocket(contract(receives=Say, sends=Say, check_sends=False)(typed_echo)),
    PYDANTIC: websocket(
        contract(receives=PydanticSay, sends=PydanticSay, check_sends=False)(typed_echo)
    ),
    WRAP_JSON: websocket(compose(wrap_json)(typed_echo)),
    STARLETTE: starlette_json,
}


async def measure(frames: int, rounds: int) -> dict[str, list[float]]:
    """msgs/s per app, one entry per round; every app must echo the same JSON values."""
    payload = [
        json.dumps({"type": "say", "room": "lobby", "text": f"message {i}", "n": i})
        for i in range(frames)
    ]
    for peer in PEERS:  # warm up, and check that each echoes the same values
        await _echoes_values(APPS[peer], payload[:200])

    async def rate(peer: str) -> float:
        return frames / await _echoes_values(APPS[peer], payload)

    return await interleaved(PEERS, rounds, rate)


async def _echoes_values(app: Any, payload: list[str]) -> float:
    """Push ``payload`` through ``app`` on one connection; the seconds it took. Like
    ``echo_once``, but the echoed JSON values are compared, not their spelling."""
    pending = deque([CONNECT, *({"type": "websocket.receive", "text": f} for f in payload)])
    pending.append(DISCONNECT)
    sent: list[Any] = []

    async def receive() -> Any:
        return pending.popleft() if pending else DISCONNECT

    async def send(message: Any) -> None:
        sent.append(message)

    start = time.perf_counter()
    await app(websocket_scope("/"), receive, send)
    elapsed = time.perf_counter() - start
    echoed = [json.loads(m["text"]) for m in sent if m["type"] == "websocket.send"]
    assert echoed == [json.loads(f) for f in payload], f"{app!r} echoed other values"
    return elapsed


def report(rates: dict[str, list[float]]) -> str:
    return ratio_table(rates, "median msgs/s", TARGETS, digits=2, numerator=MSGSPEC)


def main(argv: list[str] | None = None) -> str:
    args = parse_counts(
        __doc__, argv, Count(("--frames",), 20000, "frames per connection"), rounds(9)
    )
    print(
        f"typed echo in-process: {args.frames} JSON frames x {args.rounds} rounds per app, "
        f"Python {platform.python_version()}; ratios are medians of per-round ratios"
    )
    return show_table(report(asyncio.run(measure(args.frames, args.rounds))))


if __name__ == "__main__":
    main()
