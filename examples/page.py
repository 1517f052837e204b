"""A tiny page that talks to the socket at the same URL, so a person can try an example in a
browser: HTTP requests get the page, WebSocket connections go to the example's handler."""

from __future__ import annotations

from typing import Any

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shallot_ws: {title}</title>
<style>body{{font:16px system-ui;margin:2em auto;max-width:40em}}
#log{{border:1px solid #ccc;height:18em;overflow:auto;padding:.5em;white-space:pre-wrap}}
input{{width:75%}}</style></head>
<body><h1>shallot_ws: {title}</h1>
<div id="log"></div>
<form id="f"><input id="m" autocomplete="off" autofocus placeholder="type and press enter">
<button>send</button></form>
<script>
const log = document.getElementById("log");
const show = (t) => {{ log.textContent += t + "\\n"; log.scrollTop = log.scrollHeight; }};
const ws = new WebSocket(location.href.replace(/^http/, "ws"));
ws.onopen = () => show("[connected]");
ws.onmessage = (e) => show("< " + e.data);
ws.onclose = (e) => show("[closed " + e.code + (e.reason ? " " + e.reason : "") + "]");
document.getElementById("f").onsubmit = (e) => {{
  e.preventDefault(); const m = document.getElementById("m");
  ws.send(m.value); show("> " + m.value); m.value = "";
}};
</script></body></html>
"""


def with_page(title: str, socket_app: Any) -> Any:
    """An ASGI app: the page for HTTP, ``socket_app`` for WebSocket and lifespan."""
    body = PAGE.format(title=title).encode("utf-8")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await socket_app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    app.socket = socket_app  # type: ignore[attr-defined]
    return app
