"""asyncapi_app(): the document and its page over plain ASGI http calls, in memory; alone,
under a root_path, and as a router's fallback. (The page in a browser: test_browser_asyncapi.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shallot_ws import ConfigError, ConfigTypeError, router
from shallot_ws.contracts import asyncapi, asyncapi_app
from shallot_ws.contracts.page import BUNDLE_URL, CSS_URL
from shallot_ws.testing import HandshakeRefused, connect
from tests import asyncapi_apps

DOCUMENT = asyncapi(asyncapi_apps.app, title="Rooms", version="1.2.0")


async def call(app: Any, path: str, method: str = "GET", root_path: str = "") -> tuple:
    """One http request to ``app``: its status, headers (a dict) and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, body = sent
    assert start["type"] == "http.response.start" and body["type"] == "http.response.body"
    assert not body.get("more_body", False)
    return start["status"], dict(start["headers"]), body["body"]


async def test_the_document_is_served_as_json():
    status, headers, body = await call(asyncapi_app(DOCUMENT), "/asyncapi.json")
    assert status == 200
    assert headers == {
        b"content-type": b"application/json",
        b"content-length": str(len(body)).encode(),
        b"x-content-type-options": b"nosniff",
    }
    assert json.loads(body) == DOCUMENT


async def test_the_page_loads_the_bundle_and_renders_the_document():
    page = asyncapi_app(DOCUMENT)
    status, headers, body = await call(page, "/")
    assert status == 200
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert headers[b"content-length"] == str(len(body)).encode()
    html = body.decode()
    assert f'<script src="{BUNDLE_URL}"></script>' in html
    assert f'<link rel="stylesheet" href="{CSS_URL}">' in html
    assert "<title>Rooms</title>" in html
    assert BUNDLE_URL == (
        "https://unpkg.com/@asyncapi/react-component@3.2.1/browser/standalone/index.js"
    )
    start = html.index("{schema: ") + len("{schema: ")
    end = html.index(", config: {show: {sidebar: true}}}")
    assert json.loads(html[start:end]) == DOCUMENT
    assert body == page.html


async def test_the_bundle_url_is_configurable_and_escaped():
    page = asyncapi_app(DOCUMENT, bundle_url="/static/a.js?v=1&x=2", css_url="/static/a.css")
    html = (await call(page, "/"))[2].decode()
    assert '<script src="/static/a.js?v=1&amp;x=2"></script>' in html
    assert '<link rel="stylesheet" href="/static/a.css">' in html
    assert "unpkg" not in html


async def test_text_in_the_document_cannot_end_the_script():
    hostile = {
        **DOCUMENT,
        "info": {"title": "<b>R</b>", "version": "1", "description": "</script><script>alert(1)//"},
    }
    html = (await call(asyncapi_app(hostile), "/"))[2].decode()
    assert "alert" in html and "</script><script>alert" not in html
    assert "<title>&lt;b&gt;R&lt;/b&gt;</title>" in html
    start = html.index("{schema: ") + len("{schema: ")
    end = html.index(", config: {show: {sidebar: true}}}")
    assert json.loads(html[start:end]) == hostile  # the escapes are JSON's own


async def test_head_has_the_headers_without_the_body():
    page = asyncapi_app(DOCUMENT)
    status, headers, body = await call(page, "/asyncapi.json", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers[b"content-length"] == str(len(page.json)).encode()


@pytest.mark.parametrize(
    ("path", "method", "status", "body", "allow"),
    [
        ("/other", "GET", 404, b"404 Not Found\n", None),
        ("/asyncapi.json/", "GET", 404, b"404 Not Found\n", None),
        ("/", "POST", 405, b"405 Method Not Allowed\n", b"GET, HEAD"),
        ("/asyncapi.json", "DELETE", 405, b"405 Method Not Allowed\n", b"GET, HEAD"),
    ],
)
async def test_other_paths_and_methods_are_refused(path, method, status, body, allow):
    got_status, headers, got_body = await call(asyncapi_app(DOCUMENT), path, method)
    assert (got_status, got_body) == (status, body)
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert headers.get(b"allow") == allow


async def test_paths_are_read_under_the_root_path():
    page = asyncapi_app(DOCUMENT)
    assert (await call(page, "/docs/asyncapi.json", root_path="/docs"))[0] == 200
    assert (await call(page, "/docs", root_path="/docs"))[0] == 200
    assert (await call(page, "/docs/", root_path="/docs"))[0] == 200
    assert (await call(page, "/docsx/asyncapi.json", root_path="/docs"))[0] == 404


async def test_it_is_a_routers_fallback_beside_the_websocket_routes():
    routes = [("/echo", asyncapi_apps.echo)]
    served = router(routes, fallback=asyncapi_app(router(routes), title="Echo", version="1"))
    status, _, body = await call(served, "/asyncapi.json")
    assert status == 200
    assert list(json.loads(body)["channels"]) == ["echo"]
    assert (await call(served, "/"))[0] == 200
    async with connect(served, "/echo") as ws:
        await ws.send('{"type": "say", "text": "hi"}')
        assert json.loads(await ws.receive()) == {"type": "said", "user": "echo", "text": "hi"}


async def test_as_a_fallback_it_completes_the_lifespan():
    served = router([("/echo", asyncapi_apps.echo)], fallback=asyncapi_app(DOCUMENT))
    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await served({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]


async def test_a_websocket_connection_to_the_page_is_refused():
    with pytest.raises(HandshakeRefused) as caught:
        async with connect(asyncapi_app(DOCUMENT), "/"):
            pass
    assert (caught.value.status, caught.value.body) == (404, b"404 Not Found\n")


async def test_the_page_of_an_app_is_made_from_it():
    page = asyncapi_app(asyncapi_apps.app, title="Rooms", version="1.2.0")
    assert page.document == DOCUMENT


@pytest.mark.parametrize(
    ("args", "options", "error", "text"),
    [
        (
            (DOCUMENT,),
            {"title": "T", "servers": {}},
            ConfigError,
            "asyncapi_app got a document and title, servers: those make a document from an "
            "app; put them into the document instead",
        ),
        (
            (asyncapi_apps.app,),
            {"title": "T"},
            ConfigError,
            "asyncapi_app expected title= and version= to make the document of an app",
        ),
        (
            (DOCUMENT,),
            {"bundle_url": ""},
            ConfigTypeError,
            "asyncapi_app expected bundle_url as a non-empty str, got ''",
        ),
    ],
)
def test_bad_arguments_are_named(args, options, error, text):
    with pytest.raises(error) as caught:
        asyncapi_app(*args, **options)
    assert str(caught.value) == text
