"""Echo: every frame comes back as ``@ECHO: <frame>``; "exit" closes with 1001.

Run: ``hypercorn examples.echo:app`` and open http://127.0.0.1:8000/ to try it in a browser.
"""

from __future__ import annotations

from examples.page import with_page
from shallot_ws import websocket, ws_close, ws_send


@websocket
async def echo(scope, receiver):
    async for message in receiver:
        if message == "exit":
            yield ws_close(1001, "bye")
        yield ws_send(f"@ECHO: {message}")


app = with_page("echo", echo)
