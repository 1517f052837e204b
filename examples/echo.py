"""Echo: every frame comes back as ``@ECHO: <frame>``; "exit" closes with 1001.

Run: ``hypercorn examples.echo:app`` and open http://127.0.0.1:8000/ for a page to try it.
"""

from __future__ import annotations

from shallot_ws import websocket, ws_close, ws_send


@websocket
async def app(scope, receiver):
    async for message in receiver:
        if message == "exit":
            yield ws_close(1001, "bye")
        yield ws_send(f"@ECHO: {message}")
