"""The dashboard in headless Chromium: first admin, log in, see the monitor list.

Needs Debian's Chromium (``scripts/ensure-chromium.sh``). Screenshots go to
``screenshots/`` at the repository root (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.dashboard.conftest import PASSWORD
from tests.server.live import LiveServer

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "screenshots"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_first_admin_logs_in_and_sees_the_monitors(server: LiveServer) -> None:
    from playwright.async_api import async_playwright, expect

    await server.create_monitor(name="nightly-backup", period="1h", grace="5m")
    SCREENSHOTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await page.goto(server.base_url + "/")
            await page.get_by_role("link", name="Create the first admin").click()
            await page.get_by_label("Username").fill("root")
            await page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
            await page.get_by_label("Password again").fill(PASSWORD)
            await page.get_by_role("button", name="Create admin").click()
            await expect(page.get_by_role("status")).to_contain_text("admin account was created")

            await page.get_by_label("Username").fill("root")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()

            await expect(page.get_by_role("heading", name="Monitors")).to_be_visible()
            row = page.get_by_role("row", name="nightly-backup")
            await expect(row).to_contain_text("new")
            await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
            await page.screenshot(
                path=str(SCREENSHOTS / "dashboard-home-phone.png"), full_page=True
            )
            # htmx (served from the package) runs under the page's Content-Security-Policy.
            assert await page.evaluate("typeof htmx") == "object"
            assert errors == []
            # The session survives a reload; logging out ends it.
            await page.reload()
            await expect(row).to_be_visible()
            await page.get_by_role("button", name="Log out").click()
            await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        finally:
            await browser.close()
