"""An app with wrap_logging and no logging configuration, for the real-server logging test
(tests/logging_configured.py is the same app after the two documented lines)."""

from __future__ import annotations

from shallot_ws import websocket, wrap_logging, ws_send


async def say_back(scope, receiver):
    async for message in receiver:
        yield ws_send(message)


silent = websocket(wrap_logging(say_back))
