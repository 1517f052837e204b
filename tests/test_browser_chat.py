"""examples/chat's page in a real headless Chromium, against a real hypercorn.

Debian's ``/usr/bin/chromium``, driven by Playwright for Python through ``executable_path``:
nothing is downloaded. A missing Chromium fails the test (``.ci/run`` installs it); it is
never skipped.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.serving import Server, server_fixture

pytestmark = pytest.mark.server

serve = server_fixture()

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WAIT_MS = 5_000  # any single wait for the page


# Where Chromium (and the dconf it loads) would write under the user's home.
HOME_WRITES = (".config/chromium", ".cache/chromium", ".cache/dconf", ".pki")


def snapshot(home: Path) -> dict[str, float]:
    """Every file under the home's Chromium and dconf folders, with its mtime."""
    found: dict[str, float] = {}
    for name in HOME_WRITES:
        for path in (home / name).rglob("*") if (home / name).exists() else ():
            found[str(path)] = path.stat().st_mtime
        if (home / name).exists():
            found[str(home / name)] = (home / name).stat().st_mtime
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)",
            pytrace=False,
        )
    home = Path.home()
    before = snapshot(home)
    # A home of its own: profile, cache and dconf land there, and go with it.
    with tempfile.TemporaryDirectory(prefix="shallot-ws-chromium-") as sandbox:
        env = {
            **os.environ,
            "HOME": sandbox,
            "XDG_CONFIG_HOME": f"{sandbox}/config",
            "XDG_CACHE_HOME": f"{sandbox}/cache",
            "XDG_DATA_HOME": f"{sandbox}/data",
        }
        args = [*CHROMIUM_ARGS, f"--disk-cache-dir={sandbox}/cache/chromium"]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=args, env=env, timeout=WAIT_MS * 2
            )
            try:
                yield browser
            finally:
                await browser.close()
    assert not os.path.exists(sandbox)  # noqa: ASYNC240 - after the browser closed
    assert snapshot(home) == before, "Chromium wrote under the real home"


async def open_page(browser: Browser, server: Server) -> Page:
    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    await page.goto(server.url("/"))
    return page


async def join(page: Page, name: str, room: str) -> None:
    await page.fill("#name", name)
    await page.fill("#room", room)
    await page.click("#join")
    await expect(page.locator("#status")).to_have_text(f"in {room} as {name}")


async def say(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


async def test_two_pages_talk_and_see_each_other_come_and_go(serve, browser):
    server = serve("examples.chat:app")
    ada, bob = await open_page(browser, server), await open_page(browser, server)
    await expect(ada.locator("h1")).to_have_text("shallot_ws: chat")

    await join(ada, "ada", "blue")
    await expect(ada.locator("#members li")).to_have_text(["ada"])
    await join(bob, "bob", "blue")
    await expect(bob.locator("#members li")).to_have_text(["ada", "bob"])
    await expect(ada.locator("#members li")).to_have_text(["ada", "bob"])

    await say(ada, "hello bob")
    await expect(bob.locator("#messages li")).to_have_text(["ada: hello bob"])
    await expect(ada.locator("#messages li")).to_have_text(["ada: hello bob"])
    await expect(ada.locator("#text")).to_have_value("")
    await say(bob, "hi <b>ada</b>")  # shown as text, never as markup
    both = ["ada: hello bob", "bob: hi <b>ada</b>"]
    await expect(ada.locator("#messages li")).to_have_text(both)

    await bob.click("#leave")
    await expect(bob.locator("#status")).to_have_text("left blue")
    await expect(bob.locator("#members li")).to_have_count(0)
    await expect(ada.locator("#members li")).to_have_text(["ada"])  # bob is gone

    # Joining again, bob gets the room's history.
    await join(bob, "bob", "blue")
    await expect(bob.locator("#messages li")).to_have_text(both)
    await expect(ada.locator("#members li")).to_have_text(["ada", "bob"])


async def test_a_name_the_server_refuses_is_reported_on_the_page(serve, browser):
    server = serve("examples.chat:app")
    page = await open_page(browser, server)
    await page.evaluate("document.getElementById('name').removeAttribute('maxlength')")
    await page.fill("#name", "x" * 33)  # past the page's own check: the server says 400
    await page.click("#join")
    await expect(page.locator("#status")).to_have_text(
        "could not join: names are 1 to 32 characters, rooms 1 to 64"
    )
    await expect(page.locator("#join")).to_be_enabled()
    await expect(page.locator("#text")).to_be_disabled()
