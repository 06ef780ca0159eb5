"""Public status pages over HTTP on both databases: what they show, what they never show,
caching, and who may make and change them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

import httpx
import pytest

from tests.server.dashboard.conftest import add_user, client_for, csrf_token, log_in
from tests.server.dashboard.status_data import (
    INTERNAL_NAME,
    PRIVATE,
    make_history,
    no_pages_or_badges,
)
from tests.server.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from tests.server.live import LiveServer
from tocsin.errors import ConflictError
from tocsin.server.storage.users import Role

__all__ = ["no_pages_or_badges"]  # the autouse fixture, used by every test here

_BAR = re.compile(r'<li class="bar bar-(\w+)" title="([^"]+)">')


@asynccontextmanager
async def admin_client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in admin's browser (the admin "ada" is created the first time)."""
    with suppress(ConflictError):
        await add_user(server, "ada")
    async with client_for(server) as client:
        await log_in(client, "ada")
        yield client


async def make_page(client: httpx.AsyncClient, slug: str, title: str) -> httpx.Response:
    """Create a page through the admin form."""
    token = csrf_token(await client.get("/ui/status-pages"))
    return await client.post(
        "/ui/status-pages", data={"csrf_token": token, "slug": slug, "title": title}
    )


async def add_item(
    client: httpx.AsyncClient, slug: str, monitor: str, name: str, component: str = ""
) -> httpx.Response:
    """Add a monitor (or component) to a page through the admin form."""
    token = csrf_token(await client.get(f"/ui/status-pages/{slug}"))
    fields = {"monitor": monitor, "component": component, "display_name": name}
    return await client.post(f"/ui/status-pages/{slug}/items", data={"csrf_token": token, **fields})


async def shop_page(server: LiveServer) -> None:
    """The page "Acme status" at /status/acme showing three monitors and a component."""
    async with admin_client(server) as client:
        assert (await make_page(client, "acme", "Acme status")).status_code == 303
        for monitor, name, component in [
            (INTERNAL_NAME, "Public API", ""),
            ("shop-internal", "Shop", ""),
            ("shop-internal", "Background jobs", "rq:workers"),
            ("nightly-internal", "Nightly export", ""),
        ]:
            answer = await add_item(client, "acme", monitor, name, component)
            assert answer.status_code == 303, answer.text


def bars_of(html: str) -> list[list[tuple[str, str]]]:
    """Each item's bars as ``(level, label)``, in page order."""
    items = html.split('<li class="system">')[1:]
    return [_BAR.findall(item) for item in items]


async def test_the_page_shows_each_picked_item_with_state_and_90_daily_bars_logged_out(
    server: LiveServer,
) -> None:
    now = datetime.now(UTC)
    await make_history(server, now)
    await shop_page(server)
    async with client_for(server) as visitor:  # no session at all
        page = await visitor.get("/status/acme")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "public, max-age=30, stale-while-revalidate=30"
    html = page.text
    assert "<h1>Acme status</h1>" in html
    names = re.findall(r"<h3>([^<]+)</h3>", html)
    assert names == ["Public API", "Shop", "Background jobs", "Nightly export"]
    states = re.findall(r'<span class="state state-(\w+)">', html)
    assert states == ["up", "up", "down", "up"]
    assert "Partial outage" in html
    api, shop, jobs, nightly = bars_of(html)
    assert [len(bars) for bars in (api, shop, jobs, nightly)] == [90, 90, 90, 90]
    today = now.date().isoformat()
    assert api[-1] == ("up", f"{today}: 100% up")
    assert api[-2][0] == "major" and api[-2][1].endswith(": 90.00% up")
    assert api[0][0] == "none" and api[0][1].endswith(": no data")
    assert jobs[-2][0] == "major" and jobs[-2][1].endswith(": 0.00% up")
    assert nightly[-2][0] == "major" and nightly[-2][1].endswith(": 75.00% up")
    assert nightly[-1][0] == "up"
    assert "93.75% uptime over 90 days" in html  # 150 of 160 checks of the API passed
    # The open incident of the API is listed under its public name.
    incidents = html.split('id="incidents-heading"')[1].split("</section>")[0]
    assert "<strong>Public API</strong>: a problem since" in incidents


async def test_no_private_string_reaches_the_public_page(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    await shop_page(server)
    async with client_for(server) as visitor:
        html = (await visitor.get("/status/acme")).text
    assert "Public API" in html
    leaked = [secret for secret in PRIVATE if secret.lower() in html.lower()]
    assert leaked == []
    assert "csrf" not in html.lower() and "tocsin_session" not in html


async def test_a_client_with_the_current_copy_gets_304(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    await shop_page(server)
    async with client_for(server) as visitor:
        first = await visitor.get("/status/acme")
        etag = first.headers["etag"]
        again = await visitor.get("/status/acme", headers={"If-None-Match": etag})
        stale = await visitor.get("/status/acme", headers={"If-None-Match": '"old"'})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=30, stale-while-revalidate=30"
    assert stale.status_code == 200 and stale.headers["etag"] == etag


async def test_a_change_to_the_page_changes_its_etag(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    await shop_page(server)
    async with client_for(server) as visitor:
        before = (await visitor.get("/status/acme")).headers["etag"]
        async with admin_client(server) as admin:
            await add_item(admin, "acme", "unpicked-secret-monitor", "Search")
        after = await visitor.get("/status/acme", headers={"If-None-Match": before})
    assert after.status_code == 200
    assert "<h3>Search</h3>" in after.text


async def test_unknown_pages_are_404(server: LiveServer) -> None:
    async with client_for(server) as visitor:
        answer = await visitor.get("/status/nope")
    assert answer.status_code == 404
    assert answer.headers["cache-control"] == "no-store"


async def test_admins_rename_remove_items_and_delete_pages(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    await shop_page(server)
    async with admin_client(server) as admin:
        wrong = await add_item(admin, "acme", "no-such-monitor", "X")
        bad_key = await add_item(admin, "acme", "shop-internal", "X", component="rq:nope")
        token = csrf_token(await admin.get("/ui/status-pages/acme"))
        renamed = await admin.post(
            "/ui/status-pages/acme",
            data={"csrf_token": token, "slug": "acme-status", "title": "Acme"},
        )
        removed = await admin.post(
            "/ui/status-pages/acme-status/items/1/remove", data={"csrf_token": token}
        )
        taken = await make_page(admin, "acme-status", "Another")
        async with client_for(server) as visitor:
            moved = await visitor.get("/status/acme")
            shown = await visitor.get("/status/acme-status")
            deleted = await admin.post(
                "/ui/status-pages/acme-status/delete", data={"csrf_token": token}
            )
            gone = await visitor.get("/status/acme-status")
    assert wrong.status_code == 422 and "There is no monitor named" in wrong.text
    assert bad_key.status_code == 422 and "has reported no component" in bad_key.text
    assert renamed.status_code == 303
    assert renamed.headers["location"] == "/ui/status-pages/acme-status"
    assert removed.status_code == 303
    assert taken.status_code == 409 and "is taken by another page" in taken.text
    assert moved.status_code == 404
    assert re.findall(r"<h3>([^<]+)</h3>", shown.text) == [
        "Shop",
        "Background jobs",
        "Nightly export",
    ]
    assert deleted.status_code == 303
    assert gone.status_code == 404


async def test_invalid_slugs_and_titles_are_refused_with_the_reason(server: LiveServer) -> None:
    async with admin_client(server) as admin:
        answer = await make_page(admin, "Not A Slug!", " ")
        listing = await admin.get("/ui/status-pages")
    assert answer.status_code == 422
    assert "Address must be 1-100 lowercase letters" in answer.text
    assert "Title must be 1-200 characters" in answer.text
    assert "No status page yet." in listing.text


async def test_read_only_users_see_pages_but_cannot_change_them(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    await shop_page(server)
    await add_user(server, "rory", Role.READ_ONLY)
    async with client_for(server) as client:
        await log_in(client, "rory")
        listing = await client.get("/ui/status-pages")
        edit = await client.get("/ui/status-pages/acme")
        token = csrf_token(listing)  # the logout form carries it
        posts = [
            await client.post(path, data={"csrf_token": token, **fields})
            for path, fields in [
                ("/ui/status-pages", {"slug": "mine", "title": "Mine"}),
                ("/ui/status-pages/acme", {"slug": "acme", "title": "Hijacked"}),
                ("/ui/status-pages/acme/items/1/remove", {}),
                ("/ui/status-pages/acme/delete", {}),
            ]
        ]
    async with client_for(server) as visitor:
        public = await visitor.get("/status/acme")
        mine = await visitor.get("/status/mine")
    assert listing.status_code == 200 and "Acme status" in listing.text
    assert "New status page" not in listing.text
    assert edit.status_code == 200 and "Add to the page" not in edit.text
    assert [answer.status_code for answer in posts] == [403, 403, 403, 403]
    assert "Admins only" in posts[0].text
    assert "<h1>Acme status</h1>" in public.text and "Public API" in public.text
    assert mine.status_code == 404


async def test_logged_out_browsers_cannot_reach_the_admin_pages(server: LiveServer) -> None:
    async with client_for(server) as visitor:
        listing = await visitor.get("/ui/status-pages")
        create = await visitor.post("/ui/status-pages", data={"slug": "x", "title": "X"})
    assert listing.status_code == 303
    assert listing.headers["location"].startswith("/ui/login")
    assert create.status_code in (303, 403)
    async with client_for(server) as visitor:
        assert (await visitor.get("/status/x")).status_code == 404


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_logged_out_browser_sees_the_status_page(server: LiveServer) -> None:
    from playwright.async_api import async_playwright, expect

    await make_history(server, datetime.now(UTC))
    await shop_page(server)
    SCREENSHOTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        errors: list[str] = []
        try:
            for name, viewport in [("phone", (390, 844)), ("desktop", (1280, 900))]:
                page = await browser.new_page(
                    viewport={"width": viewport[0], "height": viewport[1]}
                )
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                await page.goto(server.base_url + "/status/acme")
                await expect(
                    page.get_by_role("heading", name="Acme status", level=1)
                ).to_be_visible()
                await expect(page.get_by_role("status")).to_have_text("Partial outage")
                jobs = page.get_by_role("listitem").filter(
                    has=page.get_by_role("heading", name="Background jobs")
                )
                await expect(jobs).to_contain_text("down")
                bars = page.locator(".system").first.locator(".bar")
                await expect(bars).to_have_count(90)
                # The bars are drawn by the stylesheet (the page's CSP allows no inline style).
                colour = await bars.last.evaluate("e => getComputedStyle(e).backgroundColor")
                assert colour == "rgb(45, 164, 78)"
                html = await page.content()
                assert [s for s in PRIVATE if s.lower() in html.lower()] == []
                assert errors == []
                await page.screenshot(
                    path=str(SCREENSHOTS / f"status-page-{name}.png"), full_page=True
                )
                await page.close()
        finally:
            await browser.close()
