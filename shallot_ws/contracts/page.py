"""``asyncapi_app``: a tiny ASGI app serving an AsyncAPI document and a page that renders it.

``GET /asyncapi.json`` is the document; ``GET /`` is an HTML page that renders it with the
``@asyncapi/react-component`` standalone bundle (from a CDN by default; ``bundle_url`` and
``css_url`` point elsewhere, as FastAPI's ``swagger_js_url`` does). The document is written
into the page itself, so the page works wherever it is mounted. Paths are taken under
``scope["root_path"]``; anything else is 404, a method other than GET and HEAD is 405.

It serves ``http``, and ``lifespan`` with nothing to set up, so it can be a router's
``fallback``; a websocket connection to it is refused (404).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, ConfigTypeError, ProtocolError
from ..handshake import decide
from ..lifespan import serve_lifespan
from ..messages import ws_deny
from ..types import Receive, Scope, Send
from .asyncapi import asyncapi

__all__ = ["BUNDLE_URL", "BUNDLE_VERSION", "CSS_URL", "AsyncAPIPage", "asyncapi_app", "page_html"]

BUNDLE_VERSION = "3.2.1"  # @asyncapi/react-component
BUNDLE_URL = (
    f"https://unpkg.com/@asyncapi/react-component@{BUNDLE_VERSION}/browser/standalone/index.js"
)
CSS_URL = f"https://unpkg.com/@asyncapi/react-component@{BUNDLE_VERSION}/styles/default.min.css"

NOT_FOUND = b"404 Not Found\n"
NOT_ALLOWED = b"405 Method Not Allowed\n"
_TEXT = b"text/plain; charset=utf-8"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{css_url}">
</head>
<body>
<div id="asyncapi"></div>
<script src="{bundle_url}"></script>
<script>
AsyncApiStandalone.render(
  {{schema: {document}, config: {{show: {{sidebar: true}}}}}},
  document.getElementById("asyncapi")
);
</script>
</body>
</html>
"""

# Inside <script>, "</script>" or "<!--" in a string would end or change the script: JSON
# can say every one of these characters as an escape instead.
_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def page_html(document: Mapping[str, Any], *, bundle_url: str, css_url: str) -> str:
    """The HTML page rendering ``document`` with the standalone bundle at ``bundle_url``
    and its style sheet at ``css_url``."""
    title = str(document.get("info", {}).get("title", "AsyncAPI"))
    return _PAGE.format(
        title=html.escape(title),
        css_url=html.escape(css_url),
        bundle_url=html.escape(bundle_url),
        document=json.dumps(document, ensure_ascii=False).translate(_SCRIPT_SAFE),
    )


class AsyncAPIPage:
    """The ASGI app ``asyncapi_app`` builds; ``document`` (a dict), ``html`` and ``json``
    (the bodies it serves) stay readable."""

    def __init__(self, document: Mapping[str, Any], *, bundle_url: str, css_url: str) -> None:
        for name, value in (("bundle_url", bundle_url), ("css_url", css_url)):
            if not isinstance(value, str) or not value:
                raise ConfigTypeError(
                    f"asyncapi_app expected {name} as a non-empty str, got {value!r}"
                )
        self.document = dict(document)
        self.json = (json.dumps(self.document, indent=2, ensure_ascii=False) + "\n").encode()
        self.html = page_html(self.document, bundle_url=bundle_url, css_url=css_url).encode()
        self._pages = {
            "/": (self.html, b"text/html; charset=utf-8"),
            "/asyncapi.json": (self.json, b"application/json"),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``http`` (the page and the document), ``lifespan`` (nothing to set up);
        refuse ``websocket`` with 404."""
        kind = scope["type"]
        if kind == "http":
            await self._serve(scope, send)
        elif kind == "lifespan":
            await serve_lifespan(receive, send)
        elif kind == "websocket":
            event = await receive()
            if event["type"] != "websocket.connect":
                raise ProtocolError(
                    f"expected a 'websocket.connect' event first, got {event['type']!r}"
                )
            denial = ws_deny(404, NOT_FOUND, {"content-type": _TEXT.decode()})
            for message in decide(denial, scope, "asyncapi_app"):
                await send(dict(message))
        else:
            raise ProtocolError(f"expected a 'websocket', 'http' or 'lifespan' scope, got {kind!r}")

    async def _serve(self, scope: Scope, send: Send) -> None:
        found = self._pages.get(_under(scope["path"], scope.get("root_path", "")))
        headers = [(b"x-content-type-options", b"nosniff")]
        if found is None:
            status, body, content_type = 404, NOT_FOUND, _TEXT
        elif scope["method"] not in ("GET", "HEAD"):
            status, body, content_type = 405, NOT_ALLOWED, _TEXT
            headers.append((b"allow", b"GET, HEAD"))
        else:
            status, (body, content_type) = 200, found
        headers += [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else body})

    def __repr__(self) -> str:
        return f"<AsyncAPIPage {self.document.get('info', {}).get('title', '')!r}>"


def _under(path: str, root_path: str) -> str:
    """``path`` without ``root_path``, when it starts with it (at a segment boundary)."""
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest.startswith("/"):
            return rest or "/"
    return path


def asyncapi_app(
    document_or_app: Any,
    *,
    title: str | None = None,
    version: str | None = None,
    servers: Mapping[str, Mapping[str, Any]] | None = None,
    description: str | None = None,
    bundle_url: str = BUNDLE_URL,
    css_url: str = CSS_URL,
) -> AsyncAPIPage:
    """An ASGI app serving ``/asyncapi.json`` and, at ``/``, a page that renders it.

    ``document_or_app`` is a document made by ``asyncapi`` (a dict), or a router or
    websocket app to make it from (then ``title`` and ``version`` are required, and
    ``servers`` and ``description`` are passed on). ``bundle_url`` and ``css_url`` are where
    the browser loads ``@asyncapi/react-component``'s standalone bundle and style sheet
    (default: unpkg, version ``BUNDLE_VERSION``); serve them yourself for a page that works
    offline or under a strict content security policy.
    """
    if isinstance(document_or_app, Mapping):
        given = {"title": title, "version": version, "servers": servers, "description": description}
        extra = [name for name, value in given.items() if value is not None]
        if extra:
            raise ConfigError(
                f"asyncapi_app got a document and {', '.join(extra)}: those make a document "
                "from an app; put them into the document instead"
            )
        document: Mapping[str, Any] = document_or_app
    else:
        if title is None or version is None:
            raise ConfigError(
                "asyncapi_app expected title= and version= to make the document of an app"
            )
        document = asyncapi(
            document_or_app,
            title=title,
            version=version,
            servers=servers,
            description=description,
        )
    return AsyncAPIPage(document, bundle_url=bundle_url, css_url=css_url)
