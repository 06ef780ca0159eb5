"""In headless Chromium: paging a monitor's checks swaps only that list in place, the
5-second poll keeps the page the user chose, and the monitor form shows only the chosen
kind's settings."""

from __future__ import annotations

import pytest

from tests.server.dashboard.browsing import logged_in_page
from tests.server.dashboard.conftest import add_user
from tests.server.dashboard.test_browser import SCREENSHOTS
from tests.server.dashboard.test_monitor_detail_paging import add_results
from tests.server.live import LiveServer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_older_checks_stay_while_the_page_polls(server: LiveServer) -> None:
    from playwright.async_api import expect

    await add_user(server, "root")
    await server.create_monitor(name="site", kind="http", url="http://127.0.0.1:9/")
    await add_results(server, "site", 45)
    monitor = await server.monitor("site")
    async with logged_in_page(server, "root") as (page, errors):
        await page.goto(f"{server.base_url}/ui/monitors/{monitor.uuid}")
        await page.evaluate("document.body.dataset.marker = 'same-page'")

        checks = page.get_by_role("region", name="Recent checks")
        await expect(checks).to_contain_text("· 20 ms")
        await checks.get_by_role("link", name="Older").click()
        await expect(checks).to_contain_text("· 21 ms")
        await expect(checks).not_to_contain_text("· 20 ms")
        assert "?results=" in page.url  # a reload or a shared link opens this page
        # Two polls later the older checks are still shown.
        for _ in range(2):
            async with page.expect_response(lambda r: "/live?" in r.url and r.ok):
                pass
        await expect(checks).to_contain_text("· 21 ms")
        await expect(checks).not_to_contain_text("· 20 ms")
        await page.screenshot(path=str(SCREENSHOTS / "monitor-older-checks.png"))
        await checks.get_by_role("link", name="Newer").click()
        await expect(checks).to_contain_text("· 20 ms")
        assert await page.evaluate("document.body.dataset.marker") == "same-page"

        await page.goto(f"{server.base_url}/ui/monitors/new")
        await page.get_by_label("Kind").select_option("tcp")
        await expect(page.get_by_label("Host")).to_be_visible()
        await expect(page.get_by_label("URL")).to_be_hidden()
        await page.get_by_label("Kind").select_option("app")
        await expect(page.get_by_label("Thresholds")).to_be_visible()
        await expect(page.get_by_label("Host")).to_be_hidden()
        await page.screenshot(path=str(SCREENSHOTS / "monitor-form-app.png"), full_page=True)
        assert errors == []
