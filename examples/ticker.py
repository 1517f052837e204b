"""Ticker: a stream that only yields, once a second, and stops when the client leaves.

Run: ``hypercorn examples.ticker:app`` and open http://127.0.0.1:8000/. The handler never
reads the receiver; the driver notices the client leaving and stops the generator where it
waits (its sleep) after ``drain_timeout`` (0.5 s), or at its next yield if that comes first,
so the ``finally`` block runs (and logs) within a second of the disconnect.
"""

from __future__ import annotations

import asyncio
import logging

from examples.page import with_page
from shallot_ws import websocket, ws_send

log = logging.getLogger("examples.ticker")

INTERVAL = 1.0


@websocket
async def ticker(scope, receiver):
    tick = 0
    try:
        while True:
            yield ws_send(f"tick {tick}")
            tick += 1
            await asyncio.sleep(INTERVAL)
    finally:
        log.warning("ticker stopped after %d ticks", tick)


app = with_page("ticker", ticker)
