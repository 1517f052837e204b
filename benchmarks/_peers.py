"""What the benchmarks share: the echo peers, a websocket scope, the rounds, and the tables.

Every peer does the same work: accept, then send back exactly the text frame it got, until
the client leaves. ``PEERS`` are the four most benchmarks compare; Litestar's is a fifth,
for the benchmarks behind fast servers. ``APPS`` holds them as bare ASGI 3 callables (for the
in-process benchmarks); ``SERVED`` names, for ``<server> benchmarks._peers:<attr>``, the
same apps made to answer the server's ``lifespan`` scope too (shallot_ws and Litestar answer
it themselves).
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import litestar
import shallot
from litestar.exceptions import WebSocketDisconnect as LitestarDisconnect
from shallot.response import ws_send as shallot2_send
from starlette.websockets import WebSocket, WebSocketDisconnect

from shallot_ws import websocket, ws_send

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

SHALLOT_WS, RAW, STARLETTE, SHALLOT2 = "shallot_ws", "raw ASGI", "Starlette", "shallot 2.0.0"
LITESTAR = "Litestar"
PEERS = (SHALLOT_WS, RAW, STARLETTE, SHALLOT2)


# -- the peers ----------------------------------------------------------------------------


@websocket
async def shallot_ws_echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


async def raw_echo(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The floor: a hand-written ASGI loop, no library at all."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": event["text"]})
        elif event["type"] == "websocket.disconnect":
            return


async def starlette_echo(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    websocket_ = WebSocket(scope, receive, send)
    await websocket_.accept()
    try:
        while True:
            await websocket_.send_text(await websocket_.receive_text())
    except WebSocketDisconnect:
        pass


@shallot.websocket
async def _shallot2_handler(scope, receiver):
    async for message in receiver:
        yield shallot2_send(message)


async def shallot2_echo(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """shallot 2.0's app is ``await (await app(scope))(receive, send)``: made ASGI 3 here."""
    await (await _shallot2_handler(scope))(receive, send)


@litestar.websocket("/")
async def _litestar_handler(socket: litestar.WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    try:
        while True:
            await socket.send_text(await socket.receive_text())
    except LitestarDisconnect:
        pass


# A Litestar handler runs only inside a Litestar app: one route at "/", found by its router.
# Litestar answers the lifespan scope itself.
litestar_echo: ASGIApp = litestar.Litestar([_litestar_handler], openapi_config=None)

APPS: dict[str, ASGIApp] = {
    SHALLOT_WS: shallot_ws_echo,
    RAW: raw_echo,
    STARLETTE: starlette_echo,
    SHALLOT2: shallot2_echo,
    LITESTAR: litestar_echo,
}


# -- the same peers for hypercorn -------------------------------------------------------------


def with_lifespan(app: ASGIApp) -> ASGIApp:
    """``app`` answering the ``lifespan`` scope that hypercorn opens before serving."""

    async def served(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return served


shallot_ws_app = shallot_ws_echo
raw_app = with_lifespan(raw_echo)
starlette_app = with_lifespan(starlette_echo)
shallot2_app = with_lifespan(shallot2_echo)
litestar_app = litestar_echo

SERVED: dict[str, str] = {
    SHALLOT_WS: "benchmarks._peers:shallot_ws_app",
    RAW: "benchmarks._peers:raw_app",
    STARLETTE: "benchmarks._peers:starlette_app",
    SHALLOT2: "benchmarks._peers:shallot2_app",
    LITESTAR: "benchmarks._peers:litestar_app",
}


# -- a fake server's pieces ----------------------------------------------------------------------

CONNECT: Message = {"type": "websocket.connect"}
DISCONNECT: Message = {"type": "websocket.disconnect", "code": 1000}


def websocket_scope(path: str = "/") -> dict[str, Any]:
    """A websocket scope as a server would build it for ``ws://127.0.0.1:8000<path>``."""
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "subprotocols": [],
        "extensions": {},
    }


def rotated(peers: Sequence[str], round_: int) -> list[str]:
    """The peers in the order to run them in round ``round_``: each goes first in turn."""
    shift = round_ % len(peers)
    return [*peers[shift:], *peers[:shift]]


async def interleaved(
    peers: Sequence[str], rounds: int, measure: Callable[[str], Awaitable[float]]
) -> dict[str, list[float]]:
    """``await measure(peer)`` for every peer, round after round, each round in ``rotated``
    order; per peer, one result per round."""
    results: dict[str, list[float]] = {peer: [] for peer in peers}
    for round_ in range(rounds):
        for peer in rotated(peers, round_):
            results[peer].append(await measure(peer))
    return results


# -- ratios and tables -------------------------------------------------------------------------


def median_ratios(
    rates: Mapping[str, Sequence[float]], numerator: str = SHALLOT_WS
) -> dict[str, float]:
    """For each peer, the median over rounds of ``rates[numerator][r] / rates[peer][r]``.

    Only ratios taken within one round are compared: the machine's speed drifts between
    rounds, and it drifts the same way for both sides of a ratio taken a moment apart.
    """
    mine = rates[numerator]
    return {
        peer: statistics.median(a / b for a, b in zip(mine, theirs, strict=True))
        for peer, theirs in rates.items()
    }


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def ratio_table(
    rates: Mapping[str, Sequence[float]],
    rate_column: str,
    targets: Mapping[str, float],
    digits: int,
    numerator: str = SHALLOT_WS,
) -> str:
    """One row a peer, in ``rates``' order: its median rate, the median ratio ``numerator``
    (shallot_ws by default) / peer, and for a peer in ``targets`` the least that ratio may be
    (shown with ``digits`` decimals) and the verdict."""
    ratios = median_ratios(rates, numerator)
    rows = []
    for peer in rates:
        target = targets.get(peer)
        rows.append(
            [
                peer,
                f"{statistics.median(rates[peer]):,.0f}",
                "-" if peer == numerator else f"{ratios[peer]:.2f}x",
                "-" if target is None else f">= {target:.{digits}f}x",
                "-" if target is None else verdict(ratios[peer] >= target),
            ]
        )
    header = ["peer", rate_column, f"{numerator} / peer", "target", "verdict"]
    return markdown_table(header, rows)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A markdown table with its columns padded to line up in plain text too."""
    rows = [list(map(str, row)) for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
