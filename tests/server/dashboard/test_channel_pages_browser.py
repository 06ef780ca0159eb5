"""In headless Chromium: an admin adds a webhook channel through the form and sends it a
test alert; a real local receiver gets it and the answer appears without a reload."""

from __future__ import annotations

import pytest

from tests.server.dashboard.browsing import logged_in_page
from tests.server.dashboard.conftest import add_user
from tests.server.dashboard.test_browser import SCREENSHOTS
from tests.server.live import LiveServer, webhook_receiver

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_admin_adds_a_webhook_channel_and_sends_a_test(server: LiveServer) -> None:
    from playwright.async_api import expect

    await add_user(server, "root")
    async with webhook_receiver() as receiver, logged_in_page(server, "root") as (page, errors):
        await (
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Channels").click()
        )
        await page.get_by_role("link", name="New channel").click()
        await page.get_by_label("Name").fill("ops-hook")
        await page.get_by_label("Kind").select_option("webhook")
        await page.get_by_label("URL").fill(receiver.url)
        await page.get_by_role("button", name="Create channel").click()

        await expect(page.get_by_role("heading", name="ops-hook")).to_be_visible()
        await expect(page.get_by_text("No alert has been sent here yet.")).to_be_visible()
        # A marker the page would lose on a reload: the answer must come in place.
        await page.evaluate("document.body.dataset.marker = 'same-page'")
        await page.get_by_role("button", name="Send a test alert").click()
        answer = page.locator("#test-result")
        await expect(answer).to_contain_text("Test alert delivered", timeout=15_000)
        await expect(answer).to_contain_text("HTTP 200")
        assert await page.evaluate("document.body.dataset.marker") == "same-page"
        (received,) = await receiver.wait_for(1)
        assert received.body["event"] == "test"
        assert received.body["channel"]["name"] == "ops-hook"
        await page.screenshot(path=str(SCREENSHOTS / "channel-test.png"), full_page=True)

        await page.get_by_role("link", name="Channels").first.click()
        row = page.get_by_role("row", name="ops-hook")
        await expect(row).to_contain_text("webhook")
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=str(SCREENSHOTS / "channels-phone.png"), full_page=True)
        assert errors == []
