"""What routing and ``wrap_json`` cost, in-process: the price of composing a real service.

Four shallot_ws apps get the same JSON text frames on one connection each, through a fake
server that never makes the app wait (as in ``echo_inprocess.py``):

* ``plain echo``: ``@websocket`` echoing each frame as it is (the core benchmark's app);
* ``router``: the same echo behind ``router([("/rooms/{room}", echo)])``, at /rooms/lobby;
* ``JSON by hand``: one handler that calls ``json.loads`` and ``json.dumps`` itself;
* ``router + wrap_json``: ``router([("/rooms/{room}", compose(wrap_json)(handler))])`` whose
  handler yields back the dict it gets.

The issue's budget: routing plus ``wrap_json`` may cost at most 25% of throughput. Two
paired ratios measure exactly that cost: ``router`` / ``plain echo`` (what routing costs)
and ``router + wrap_json`` / ``JSON by hand`` (what routing and the middleware cost over
doing the same JSON work by hand); both must stay at or above 0.75x. The JSON codec itself
costs far more than the budget (``JSON by hand`` / ``plain echo`` is printed to show it),
and is the application's work, not the composition's. Peers are interleaved round by round;
ratios are medians of per-round ratios.

Run: ``python3 benchmarks/composed_inprocess.py [--frames N] [--rounds R]``.
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._peers import interleaved, markdown_table, median_ratios, verdict
from benchmarks._runner import Count, parse_counts, rounds, show_table
from benchmarks.echo_inprocess import echo_once
from shallot_ws import compose, router, websocket, wrap_json, ws_send

PLAIN, ROUTED, BY_HAND, COMPOSED = "plain echo", "router", "JSON by hand", "router + wrap_json"
PEERS = (PLAIN, ROUTED, BY_HAND, COMPOSED)
PATH = "/rooms/lobby"
# (numerator, denominator, target): the composition's cost stays within 25%
RATIOS = ((ROUTED, PLAIN, 0.75), (COMPOSED, BY_HAND, 0.75), (BY_HAND, PLAIN, None))


async def echo(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


async def json_by_hand(scope, receiver):
    loads, dumps = json.loads, json.dumps
    async for message in receiver:
        yield ws_send(dumps(loads(message)))


async def json_values(scope, receiver):
    async for value in receiver:
        yield value


APPS = {
    PLAIN: (websocket(echo), "/"),
    ROUTED: (router([("/rooms/{room}", echo)]), PATH),
    BY_HAND: (websocket(json_by_hand), "/"),
    COMPOSED: (router([("/rooms/{room}", compose(wrap_json)(json_values))]), PATH),
}


async def measure(frames: int, rounds: int) -> dict[str, list[float]]:
    """msgs/s per app, one entry per round."""
    payload = [json.dumps({"n": i, "room": "lobby", "text": f"message {i}"}) for i in range(frames)]
    for peer in PEERS:  # warm up
        app, path = APPS[peer]
        await echo_once(app, payload[:1000], path)

    async def rate(peer: str) -> float:
        app, path = APPS[peer]
        return frames / await echo_once(app, payload, path)

    return await interleaved(PEERS, rounds, rate)


def report(rates: dict[str, list[float]]) -> str:
    rows = []
    for numerator, denominator, target in RATIOS:
        ratio = median_ratios(rates, numerator)[denominator]
        rows.append(
            [
                f"{numerator} / {denominator}",
                f"{statistics.median(rates[numerator]):,.0f}",
                f"{statistics.median(rates[denominator]):,.0f}",
                f"{ratio:.2f}x",
                "-" if target is None else f">= {target:.2f}x",
                "-" if target is None else verdict(ratio >= target),
            ]
        )
    header = ["ratio", "msgs/s (numerator)", "msgs/s (denominator)", "ratio", "target", "verdict"]
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> str:
    args = parse_counts(
        __doc__, argv, Count(("--frames",), 20000, "frames per connection"), rounds(9)
    )
    print(
        f"composition in-process: {args.frames} JSON frames x {args.rounds} rounds per app, "
        f"Python {platform.python_version()}; ratios are medians of per-round ratios"
    )
    return show_table(report(asyncio.run(measure(args.frames, args.rounds))))


if __name__ == "__main__":
    main()
