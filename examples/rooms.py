"""Rooms: a chat per room, routed by path, in JSON.

A client connects to ``/rooms/<room>`` and is told its id: ``{"room": "blue", "you": "c1"}``.
Each ``{"text": "..."}`` it sends reaches every client in the same room, itself included, as
``{"room": "blue", "text": "...", "from": "c1"}``. ``wrap_json`` parses the frames and
encodes what the handler yields: a frame that is not JSON (or not text) closes the
connection with 1007; JSON of another shape gets ``{"error": ...}`` back.

The room is a channel of ``broadcast``, an in-process ``Broadcast("memory://")``, and the
handler waits on its client and its subscription at once with ``merge``. The subscription is
made before the greeting, so a client that has its id gets every message sent after. Each
client's backlog is bounded (``QUEUE_SIZE``, policy ``"end"``): a client too slow to keep
up is closed with 1013 rather than let it grow, so one slow reader never holds memory or
other clients back. Ids (c1, c2, ...) are counted per process.

Run: ``python3 -m hypercorn examples.rooms:app`` and open http://127.0.0.1:8000/ in two
browser tabs (http://127.0.0.1:8000/rooms/blue for another room): the router sends the
WebSocket to the handler and the page request to its ``fallback``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncGenerator
from typing import Any

from shallot_ws import Broadcast, compose, merge, ws_close
from shallot_ws.middlewares import wrap_json
from shallot_ws.routing import route, router

QUEUE_SIZE = 64  # messages waiting for one client before it counts as too slow

broadcast = Broadcast("memory://")  # one channel per room: "room:<room>"
client_ids = itertools.count(1)


async def chat(scope: dict[str, Any], receiver: Any) -> AsyncGenerator[Any, None]:
    """One client of a room; ``wrap_json`` parses its frames and encodes what it yields."""
    room = scope["path_params"]["room"]
    channel, client = f"room:{room}", f"c{next(client_ids)}"
    async with (
        broadcast.subscribe(channel, buffer=QUEUE_SIZE, policy="end") as feed,
        merge(receiver, feed=feed) as events,
    ):
        yield {"room": room, "you": client}
        async for source, item in events:
            if source == "feed":
                yield item
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                message = {"room": room, "text": item["text"], "from": client}
                await broadcast.publish(channel, message)
            else:
                yield {"error": 'expected {"text": "..."}'}
    if feed.overflowed:
        yield ws_close(1013, "too slow: messages were dropped")


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
