"""The AsyncAPI page in a real headless Chromium, over a real hypercorn.

The react component's standalone bundle and style sheet come from the npm package in
tests/asyncapi/node_modules, served by test-only routes (``tests.asyncapi_apps.served``):
the page asks nothing of any other host. Chromium is the chat page test's (Debian's, a home
of its own). The test takes a screenshot of the rendered page; with
``SHALLOT_WS_UPDATE_SCREENSHOTS=1`` it is written to docs/asyncapi-page.png (Chromium's
pixels differ a little from run to run: a plain test run leaves docs/ as it is).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests import asyncapi_apps
from tests import test_browser_chat as chat_page
from tests.asyncapi_parser import installed_package
from tests.serving import server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()
browser = chat_page.browser  # the same fixture: /usr/bin/chromium, a home of its own

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "asyncapi-page.png"
VIEWPORT = {"width": 1600, "height": 1000}  # wide enough for the sidebar


async def test_the_page_renders_the_channels_and_messages(serve, browser, tmp_path):
    installed_package("@asyncapi/react-component")
    server = serve("tests.asyncapi_apps:served")
    page = await (await browser.new_context(viewport=VIEWPORT)).new_page()
    page.set_default_timeout(chat_page.WAIT_MS)
    expect.set_options(timeout=chat_page.WAIT_MS)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.goto(server.url("/"))

    document = asyncapi_apps.DOCUMENT
    await expect(page.get_by_role("heading", name="Rooms 1.2.0").first).to_be_visible()
    for key, operation in document["operations"].items():
        channel = operation["channel"]["$ref"].rsplit("/", 1)[1]
        address = document["channels"][channel]["address"]
        names = [ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]]
        shown = page.locator(f'[id="operation-{operation["action"]}-{key}"]')
        await expect(shown.locator("h3")).to_have_text(f"{operation['action'].upper()} {address}")
        await expect(shown.get_by_text("Message ID").locator("span")).to_have_text(names)
    schemas = page.locator('a[href^="#schema-"]')
    await expect(schemas).to_have_text(list(document["components"]["schemas"]))
    assert {
        "/rooms/{room}",
        "/private/{user}",
        "/echo",
        "/orders",
    } == {c["address"] for c in document["channels"].values()} - {"/raw"}

    update = os.environ.get("SHALLOT_WS_UPDATE_SCREENSHOTS") == "1"
    screenshot = SCREENSHOT if update else tmp_path / SCREENSHOT.name
    await page.screenshot(path=screenshot)
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    local = server.url("/")
    assert [url for url in asked if not url.startswith(local)] == []
    assert {url[len(local) - 1 :] for url in asked} >= {
        "/",
        "/vendor/asyncapi.js",
        "/vendor/asyncapi.css",
    }


async def test_the_chat_examples_page_shows_its_channel_and_messages(serve, browser):
    installed_package("@asyncapi/react-component")
    server = serve("tests.asyncapi_apps:chat_served")
    page = await (await browser.new_context(viewport=VIEWPORT)).new_page()
    page.set_default_timeout(chat_page.WAIT_MS)
    expect.set_options(timeout=chat_page.WAIT_MS)
    await page.goto(server.url("/"))
    heading = page.get_by_role("heading", name="shallot_ws chat example 1.0.0")
    await expect(heading.first).to_be_visible()
    document = asyncapi_apps.CHAT_DOCUMENT
    for key, operation in document["operations"].items():
        names = [ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]]
        shown = page.locator(f'[id="operation-{operation["action"]}-{key}"]')
        await expect(shown.locator("h3")).to_have_text(
            f"{operation['action'].upper()} /rooms/{{room}}"
        )
        await expect(shown.get_by_text("Message ID").locator("span")).to_have_text(names)
    sent = {
        ref["$ref"].rsplit("/", 1)[1]
        for op in document["operations"].values()
        for ref in op["messages"]
    }
    assert sent == {"Post", "History", "Presence", "ChatMessage", "Error"}
