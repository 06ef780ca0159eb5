"""Headless Chromium logged in to a live server: what the dashboard's browser tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from tests.server.dashboard.conftest import PASSWORD
from tests.server.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from tests.server.live import LiveServer

if TYPE_CHECKING:
    from playwright.async_api import Page


@asynccontextmanager
async def logged_in_page(
    server: LiveServer, username: str
) -> AsyncIterator[tuple[Page, list[str]]]:
    """A 1280 by 900 page logged in as ``username`` (who must exist, with ``PASSWORD``), and
    the console errors it collects; the browser is closed afterwards."""
    from playwright.async_api import async_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await page.goto(server.base_url + "/ui/login")
            await page.get_by_label("Username").fill(username)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            yield page, errors
        finally:
            await browser.close()
