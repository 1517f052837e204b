"""Rooms: a chat per room, routed by path, in JSON.

A client connects to ``/rooms/<room>`` and is told its id: ``{"room": "blue", "you": "c1"}``.
Each ``{"text": "..."}`` it sends reaches every client in the same room, itself included, as
``{"room": "blue", "text": "...", "from": "c1"}``. ``wrap_json`` parses the frames and
encodes what the handler yields: a frame that is not JSON (or not text) closes the
connection with 1007; JSON of another shape gets ``{"error": ...}`` back.

Each client has a bounded queue of outgoing messages in an in-process registry, ``ROOMS``.
A client too slow to empty it is closed with 1013 rather than let it grow: one slow reader
never holds memory or other clients back. The handler waits on two things at once, the
client's next frame and its queue's next message, with ``frames_and_messages`` below.

Run: ``python3 -m hypercorn examples.rooms:app`` and open http://127.0.0.1:8000/ in two
browser tabs (http://127.0.0.1:8000/rooms/blue for another room): the router sends the
WebSocket to the handler and the page request to its ``fallback``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from shallot_ws import WSDisconnect, compose, ws_close
from shallot_ws.middlewares import wrap_json
from shallot_ws.routing import route, router

QUEUE_SIZE = 64  # messages waiting for one client before it counts as too slow
TOO_SLOW = object()  # put into a client's queue in place of what it could not keep up with


class Rooms:
    """The in-process registry: for each room, each client's queue of outgoing messages."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self.members: dict[str, dict[str, asyncio.Queue[Any]]] = {}
        self._ids = itertools.count(1)

    def join(self, room: str) -> tuple[str, asyncio.Queue[Any]]:
        """Add a new client to ``room``: its id and its queue."""
        client = f"c{next(self._ids)}"
        queue: asyncio.Queue[Any] = asyncio.Queue(self.queue_size)
        self.members.setdefault(room, {})[client] = queue
        return client, queue

    def leave(self, room: str, client: str) -> None:
        """Remove ``client``; a room without clients is removed too."""
        members = self.members.get(room, {})
        members.pop(client, None)
        if not members:
            self.members.pop(room, None)

    def publish(self, room: str, message: dict[str, Any]) -> None:
        """Queue ``message`` for every client of ``room``; never waits."""
        for queue in self.members.get(room, {}).values():
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # too slow: drop its backlog, tell its handler to close
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(TOO_SLOW)


ROOMS = Rooms()


async def frames_and_messages(
    receiver: Any, queue: asyncio.Queue[Any]
) -> AsyncGenerator[tuple[str, Any], None]:
    """Yield ``("frame", frame)`` and ``("message", message)`` as they come, from the client
    and from ``queue``, until the client leaves.

    One task waits for each; closing this generator (use ``aclosing``) cancels both and
    waits for them, so none outlives the connection. A cancellation of the caller is never
    swallowed: it reaches the ``finally`` below and goes on.
    """
    frame = asyncio.ensure_future(receiver.receive())
    message = asyncio.ensure_future(queue.get())
    try:
        while True:
            await asyncio.wait((frame, message), return_when=asyncio.FIRST_COMPLETED)
            if message.done():
                item, message = message.result(), asyncio.ensure_future(queue.get())
                yield "message", item
            if frame.done():
                try:
                    item = frame.result()  # what wrap_json raised for a bad frame comes out here
                except WSDisconnect:
                    return
                frame = asyncio.ensure_future(receiver.receive())
                yield "frame", item
    finally:
        for task in (frame, message):
            task.cancel()
        # Wait until both have ended; return_exceptions also marks their errors as seen.
        await asyncio.gather(frame, message, return_exceptions=True)


async def chat(scope: dict[str, Any], receiver: Any) -> AsyncGenerator[Any, None]:
    """One client of a room; ``wrap_json`` parses its frames and encodes what it yields."""
    room = scope["path_params"]["room"]
    client, queue = ROOMS.join(room)
    try:
        yield {"room": room, "you": client}
        async with aclosing(frames_and_messages(receiver, queue)) as events:
            async for kind, item in events:
                if kind == "message":
                    if item is TOO_SLOW:
                        yield ws_close(1013, "too slow: messages were dropped")
                        return
                    yield item
                    continue
                text = item.get("text") if isinstance(item, dict) else None
                if isinstance(text, str):
                    ROOMS.publish(room, {"room": room, "text": text, "from": client})
                else:
                    yield {"error": 'expected {"text": "..."}'}
    finally:
        ROOMS.leave(room, client)


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shallot_ws: rooms</title>
<style>body{font:16px system-ui;margin:2em auto;max-width:40em}
#log{border:1px solid #ccc;height:18em;overflow:auto;padding:.5em;white-space:pre-wrap}
input{width:75%}</style></head>
<body><h1>shallot_ws: room <span id="room"></span></h1>
<div id="log"></div>
<form id="f"><input id="m" autocomplete="off" autofocus placeholder="type and press enter">
<button>send</button></form>
<script>
const socket = location.pathname.startsWith(__ROOT__ + "/rooms/") ? location.pathname : __LOBBY__;
const log = document.getElementById("log");
const show = (t) => { log.textContent += t + "\\n"; log.scrollTop = log.scrollHeight; };
const ws = new WebSocket(location.origin.replace(/^http/, "ws") + socket);
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.you) {
    document.getElementById("room").textContent = m.room; show("[you are " + m.you + "]");
  } else if (m.error) show("[" + m.error + "]");
  else show(m.from + ": " + m.text);
};
ws.onclose = (e) => show("[closed " + e.code + (e.reason ? " " + e.reason : "") + "]");
document.getElementById("f").onsubmit = (e) => {
  e.preventDefault(); const m = document.getElementById("m");
  ws.send(JSON.stringify({text: m.value})); m.value = "";
};
</script></body></html>
"""


async def page(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The router's fallback: the chat page for any HTTP request; lifespan completes."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    root = scope.get("root_path", "")
    lobby = root + app.url_for("room", room="lobby")
    body = PAGE.replace("__ROOT__", json.dumps(root)).replace("__LOBBY__", json.dumps(lobby))
    data = body.encode("utf-8")
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(data)).encode("ascii")),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


app = router([route("/rooms/{room}", compose(wrap_json)(chat), name="room")], fallback=page)
