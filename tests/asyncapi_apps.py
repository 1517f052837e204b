"""Apps for the AsyncAPI tests: a small router with one route of each kind, and the page
served over a real server with the react component's bundle from tests/asyncapi/node_modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypedDict

import msgspec
import pydantic

from shallot_ws import bearer_auth, route, router, websocket
from shallot_ws.contracts import asyncapi, asyncapi_app, contract


class Join(msgspec.Struct, tag="join"):
    """Join a room."""

    room: str


class Say(msgspec.Struct, tag="say"):
    text: str


class Said(msgspec.Struct, tag="said"):
    """A message said in the room."""

    user: str
    text: str


class RoomQuery(TypedDict):
    name: str


class Buy(pydantic.BaseModel):
    type: Literal["buy"] = "buy"
    item: str
    quantity: int


class Sell(pydantic.BaseModel):
    type: Literal["sell"] = "sell"
    item: str


class Ack(pydantic.BaseModel):
    """The order was taken."""

    order: int


@websocket
@contract(receives=Join | Say, sends=Said, name="Room", summary="Talk in a room.", query=RoomQuery)
async def room(scope, receiver):
    async for message in receiver:
        if isinstance(message, Say):
            yield Said(scope["query_string"].decode(), message.text)


def verify(token: str) -> str | None:
    return "ada" if token == "secret" else None


@websocket
@contract(sends=Said)
async def private(scope, receiver):
    yield Said(scope["user"], "welcome")


@websocket
@contract(receives=Say, sends=Said, on_invalid="reply")
async def echo(scope, receiver):
    async for message in receiver:
        yield Said("echo", message.text)


@websocket
@contract(receives=Annotated[Buy | Sell, pydantic.Field(discriminator="type")], sends=Ack)
async def orders(scope, receiver):
    count = 0
    async for _ in receiver:
        count += 1
        yield Ack(order=count)


@websocket
async def raw(scope, receiver):
    async for frame in receiver:
        yield frame


app = router(
    [
        route("/rooms/{room}", room, name="room"),
        route("/private/{user:int}", private, guards=[bearer_auth(verify)]),
        route("/echo", echo),
        route("/orders", orders, name="orders"),
        route("/raw", raw),
    ]
)


# -- the page over a real server (test_browser_asyncapi) ------------------------------------

COMPONENT = (
    Path(__file__).resolve().parent / "asyncapi" / "node_modules" / "@asyncapi" / "react-component"
)
VENDOR = {
    "/vendor/asyncapi.js": (COMPONENT / "browser" / "standalone" / "index.js", b"text/javascript"),
    "/vendor/asyncapi.css": (COMPONENT / "styles" / "default.min.css", b"text/css"),
}
DOCUMENT = asyncapi(
    app,
    title="Rooms",
    version="1.2.0",
    description="Talk in rooms, and place orders.",
    servers={"production": {"host": "rooms.example.com", "protocol": "wss"}},
)
page = asyncapi_app(DOCUMENT, bundle_url="/vendor/asyncapi.js", css_url="/vendor/asyncapi.css")


def with_vendor(page_app):
    """``page_app`` with the react component's bundle and style sheet from the npm package
    (test-only routes); everything else is the page's."""

    async def vendor_or_page(scope, receive, send):
        found = VENDOR.get(scope["path"]) if scope["type"] == "http" else None
        if found is None:
            await page_app(scope, receive, send)
            return
        path, content_type = found
        body = path.read_bytes()
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return vendor_or_page


vendor_or_page = with_vendor(page)
served = router(app.routes, fallback=vendor_or_page)


def _chat_document():
    from examples.chat import app as chat

    return asyncapi(chat, title="shallot_ws chat example", version="1.0.0")


CHAT_DOCUMENT = _chat_document()
chat_served = with_vendor(
    asyncapi_app(CHAT_DOCUMENT, bundle_url="/vendor/asyncapi.js", css_url="/vendor/asyncapi.css")
)
