"""In headless Chromium: the incidents page is open when a monitor goes down, and the
incident appears on it without a reload."""

from __future__ import annotations

import httpx
import pytest

from tests.server.dashboard.browsing import logged_in_page
from tests.server.dashboard.conftest import add_user
from tests.server.dashboard.test_browser import SCREENSHOTS
from tests.server.live import LiveServer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_incident_appears_on_the_open_page_without_a_reload(server: LiveServer) -> None:
    from playwright.async_api import expect

    await add_user(server, "root")
    monitor = await server.create_monitor(name="nightly-etl", period="1h")
    async with httpx.AsyncClient() as client, logged_in_page(server, "root") as (page, errors):
        await page.get_by_role("link", name="Incidents").click()

        await expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
        open_section = page.get_by_role("region", name="Open")
        await expect(open_section).to_contain_text("No open incidents")
        # A marker the page would lose on a reload: the incident must come in place.
        await page.evaluate("document.body.dataset.marker = 'same-page'")
        await client.get(f"{server.base_url}/ping/{monitor.uuid}/fail")
        row = open_section.get_by_role("row", name="nightly-etl")
        await expect(row).to_contain_text("open", timeout=15_000)
        await expect(row).to_contain_text("fail ping")
        assert await page.evaluate("document.body.dataset.marker") == "same-page"
        await page.screenshot(path=str(SCREENSHOTS / "incidents.png"), full_page=True)

        await row.get_by_role("link", name="#").click()
        await expect(page.get_by_role("heading", name="nightly-etl")).to_be_visible()
        await expect(page.locator("#incident-state")).to_have_text("open")
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=str(SCREENSHOTS / "incident-phone.png"), full_page=True)
        assert errors == []
