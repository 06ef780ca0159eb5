"""In headless Chromium: an admin creates an HTTP monitor, sees it go up, then down
when its target breaks (a flip and an open incident appear), without reloading the page."""

from __future__ import annotations

import pytest
import trustme

from tests.server.dashboard.browsing import logged_in_page
from tests.server.dashboard.conftest import add_user
from tests.server.dashboard.test_browser import SCREENSHOTS
from tests.server.live import LiveServer
from tests.server.probes.targets import serve_targets

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_new_http_monitor_goes_up_then_down_without_a_reload(server: LiveServer) -> None:
    from playwright.async_api import expect

    await add_user(server, "root")
    async with (
        serve_targets(trustme.CA()) as targets,
        logged_in_page(server, "root") as (page, errors),
    ):
        await page.get_by_role("link", name="New monitor").click()
        await page.get_by_label("Name", exact=True).fill("shop")
        await page.get_by_label("Kind").select_option("http")
        await page.get_by_label("URL").fill(targets.http_url + "/health")
        await page.get_by_label("Interval").fill("1s")
        await page.get_by_role("button", name="Create monitor").click()

        await expect(page.get_by_role("heading", name="shop")).to_be_visible()
        state = page.locator("#monitor-state")
        await expect(state).to_have_text("up", timeout=15_000)
        # A marker the page would lose on a reload: the updates must come in place.
        await page.evaluate("document.body.dataset.marker = 'same-page'")
        targets.health.status_code = 500
        await expect(state).to_have_text("down", timeout=20_000)
        flips = page.get_by_role("region", name="State changes")
        await expect(flips).to_contain_text("up → down")
        incidents = page.get_by_role("region", name="Incidents")
        await expect(incidents).to_contain_text("open")
        checks = page.get_by_role("region", name="Recent checks")
        await expect(checks).to_contain_text("HTTP 500")
        assert await page.evaluate("document.body.dataset.marker") == "same-page"
        await page.screenshot(path=str(SCREENSHOTS / "monitor-down.png"), full_page=True)

        await page.get_by_role("link", name="Monitors").first.click()
        row = page.get_by_role("row", name="shop")
        await expect(row).to_contain_text("down")
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=str(SCREENSHOTS / "monitor-list-phone.png"), full_page=True)
        assert errors == []
