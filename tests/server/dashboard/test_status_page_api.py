"""Status pages over the REST API and as public JSON, against a live server on both
databases: what the JSON shows and never shows, keys and their scopes, the error shape,
paging, and changes that reach the public page at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.server.dashboard.conftest import client_for
from tests.server.dashboard.status_data import (
    INTERNAL_NAME,
    PRIVATE,
    make_history,
    no_pages_or_badges,
)
from tests.server.live import LiveServer
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key
from tocsin.server.storage.probe_reads import floor_hour
from tocsin.server.storage.shapes import StatusPagePublicOut

__all__ = ["no_pages_or_badges"]  # the autouse fixture, used by every test here

PAGES = "/api/v1/status-pages"
ITEMS = [
    {"monitor": INTERNAL_NAME, "name": "Public API"},
    {"monitor": "shop-internal", "name": "Shop"},
    {"monitor": "shop-internal", "component": "rq:workers", "name": "Background jobs"},
    {"monitor": "nightly-internal", "name": "Nightly export"},
]


async def key_client(server: LiveServer, scope: ApiKeyScope) -> httpx.AsyncClient:
    """A client sending a new API key of ``scope``."""
    async with server.database.write() as conn:
        created = await create_api_key(conn, f"status-{scope}", scope, datetime.now(UTC))
    return client_for(server, headers={"Authorization": f"Bearer {created.key}"})


async def acme(server: LiveServer, **extra: Any) -> httpx.Response:
    """Create the page "Acme status" at /status/acme through the API."""
    async with await key_client(server, ApiKeyScope.WRITE) as admin:
        body = {"slug": "acme", "title": "Acme status", "items": ITEMS, **extra}
        return await admin.post(PAGES, json=body)


async def test_a_page_made_through_the_api_is_public_json_for_anyone(server: LiveServer) -> None:
    now = datetime.now(UTC)
    await make_history(server, now)
    created = await acme(server)
    async with client_for(server) as visitor:  # no key, no session
        answer = await visitor.get("/status/acme.json")
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["slug"] == "acme" and made["title"] == "Acme status"
    assert made["url"].endswith("/status/acme") and made["json_url"].endswith("/status/acme.json")
    assert [(i["position"], i["monitor"], i["component"], i["name"]) for i in made["items"]] == [
        (1, INTERNAL_NAME, None, "Public API"),
        (2, "shop-internal", None, "Shop"),
        (3, "shop-internal", "rq:workers", "Background jobs"),
        (4, "nightly-internal", None, "Nightly export"),
    ]
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "public, max-age=30, stale-while-revalidate=30"
    assert answer.headers["etag"].startswith('"')
    data = answer.json()
    StatusPagePublicOut.model_validate(data)  # the documented shape
    assert set(data) == {"title", "status", "summary", "updated_at", "items", "incidents"}
    assert (data["title"], data["status"], data["summary"]) == (
        "Acme status",
        "degraded",
        "Partial outage",
    )
    assert [(i["name"], i["state"]) for i in data["items"]] == [
        ("Public API", "up"),
        ("Shop", "up"),
        ("Background jobs", "down"),
        ("Nightly export", "up"),
    ]
    api, _shop, jobs, nightly = (item["uptime"] for item in data["items"])
    # The API: 10 of 100 checks failed yesterday at 03:00, 60 passed this hour.
    assert (api["7d"], api["30d"], api["90d"]) == (93.75, 93.75, 93.75)
    yesterday_3am = datetime.combine(now.date(), datetime.min.time(), UTC) - timedelta(hours=21)
    in_24h = yesterday_3am >= floor_hour(now - timedelta(hours=24))
    assert api["24h"] == (93.75 if in_24h else 100.0)
    assert jobs["90d"] == 0.0  # every check of the component failed
    assert 0.0 < nightly["90d"] < 100.0  # down 6 hours yesterday
    assert [(i["items"], i["since"][:10]) for i in data["incidents"]] == [
        (["Public API"], now.date().isoformat())
    ]


async def test_no_private_string_reaches_the_public_json(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    await acme(server)
    async with client_for(server) as visitor:
        text = (await visitor.get("/status/acme.json")).text
    assert "Public API" in text
    assert [secret for secret in PRIVATE if secret.lower() in text.lower()] == []
    assert "monitor" not in text and "uuid" not in text


async def test_read_only_keys_read_pages_but_cannot_change_them(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    await acme(server)
    async with await key_client(server, ApiKeyScope.READ) as reader:
        listing = await reader.get(PAGES)
        one = await reader.get(f"{PAGES}/acme")
        changes = [
            await reader.post(PAGES, json={"slug": "mine", "title": "Mine"}),
            await reader.patch(f"{PAGES}/acme", json={"title": "Hijacked"}),
            await reader.delete(f"{PAGES}/acme"),
        ]
    async with client_for(server) as anonymous:
        no_key = await anonymous.get(PAGES)
        no_key_write = await anonymous.delete(f"{PAGES}/acme")
    async with client_for(server, headers={"X-Api-Key": "tocsin_rw_not-a-key"}) as wrong:
        bad_key = await wrong.get(f"{PAGES}/acme")
    async with client_for(server) as visitor:
        public = (await visitor.get("/status/acme.json")).json()
    assert listing.status_code == 200
    assert [page["slug"] for page in listing.json()["status_pages"]] == ["acme"]
    assert one.status_code == 200 and len(one.json()["items"]) == 4
    assert [answer.status_code for answer in changes] == [403, 403, 403]
    assert changes[0].json() == {
        "error": "this API key is read-only; changes need a read-write key"
    }
    assert no_key.status_code == 401 and no_key.headers["www-authenticate"] == "Bearer"
    assert no_key_write.status_code == 401
    assert no_key.json()["error"].startswith("an API key is required")
    assert bad_key.status_code == 401 and bad_key.json() == {"error": "invalid or revoked API key"}
    assert public["title"] == "Acme status"


async def test_unknown_pages_are_404_in_the_error_shape(server: LiveServer) -> None:
    async with await key_client(server, ApiKeyScope.WRITE) as admin:
        answers = [
            await admin.get(f"{PAGES}/nope"),
            await admin.patch(f"{PAGES}/nope", json={"title": "X"}),
            await admin.delete(f"{PAGES}/nope"),
        ]
    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert {answer.json()["error"] for answer in answers} == {"no status page 'nope'"}


async def test_invalid_pages_are_refused_naming_each_field(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    async with await key_client(server, ApiKeyScope.WRITE) as admin:
        shapeless = await admin.post(
            PAGES,
            json={
                "slug": "Not A Slug!",
                "title": " ",
                "colour": "red",
                "items": [{"monitor": INTERNAL_NAME, "name": "Ok"}, {"name": "", "x": 1}],
            },
        )
        unknown = await admin.post(
            PAGES,
            json={
                "slug": "acme",
                "title": "Acme",
                "items": [
                    {"monitor": "no-such-monitor", "name": "A"},
                    {"monitor": "shop-internal", "component": "rq:nope", "name": "B"},
                    {"monitor": INTERNAL_NAME, "component": "rq:workers", "name": "C"},
                ],
            },
        )
        not_json = await admin.post(
            PAGES, content=b"{", headers={"Content-Type": "application/json"}
        )
        first = await admin.post(PAGES, json={"slug": "acme", "title": "Acme"})
        taken = await admin.post(PAGES, json={"slug": "ACME ", "title": "Another"})
        renamed_onto = await admin.post(PAGES, json={"slug": "other", "title": "Other"})
        clash = await admin.patch(f"{PAGES}/other", json={"slug": "acme"})
        listing = await admin.get(PAGES)
    assert shapeless.status_code == 422
    assert shapeless.json() == {
        "error": "invalid status page",
        "fields": {
            "slug": "must be 1-100 lowercase letters, digits and inner hyphens",
            "title": "must be 1-200 characters",
            "colour": "unknown field; expected one of slug, title, items",
            "items[1].monitor": "is required: a monitor's uuid or name",
            "items[1].name": "must be 1-100 characters",
            "items[1].x": "unknown field; expected one of monitor, component, name",
        },
    }
    assert unknown.status_code == 422
    assert unknown.json()["fields"] == {
        "items[0].monitor": "no monitor named 'no-such-monitor'",
        "items[1].component": "shop-internal has reported no component 'rq:nope'",
        "items[2].component": f"{INTERNAL_NAME} has reported no component 'rq:workers'",
    }
    assert not_json.status_code == 422 and not_json.json()["fields"] == {
        "body": "is not valid JSON"
    }
    assert first.status_code == 201
    assert taken.status_code == 409 and "taken" in taken.json()["error"]
    assert renamed_onto.status_code == 201
    assert clash.status_code == 409
    assert [page["slug"] for page in listing.json()["status_pages"]] == ["acme", "other"]


async def test_changes_through_the_api_reach_the_public_page_at_once(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    await acme(server)
    async with client_for(server) as visitor, await key_client(server, ApiKeyScope.WRITE) as admin:
        before = (await visitor.get("/status/acme")).text  # now in the server's memory
        changed = await admin.patch(
            f"{PAGES}/acme",
            json={"title": "Acme, Inc.", "items": [{"monitor": "shop-internal", "name": "Shop"}]},
        )
        after = (await visitor.get("/status/acme.json")).json()
        page = (await visitor.get("/status/acme")).text
        moved = await admin.patch(f"{PAGES}/acme", json={"slug": "acme-inc"})
        old_address = await visitor.get("/status/acme")
        new_address = await visitor.get("/status/acme-inc.json")
        deleted = await admin.delete(f"{PAGES}/acme-inc")
        gone = [await visitor.get("/status/acme-inc"), await visitor.get("/status/acme-inc.json")]
    assert "Public API" in before
    assert changed.status_code == 200
    assert [item["name"] for item in changed.json()["items"]] == ["Shop"]
    assert after["title"] == "Acme, Inc." and [i["name"] for i in after["items"]] == ["Shop"]
    assert "<h1>Acme, Inc.</h1>" in page and "Public API" not in page
    assert moved.status_code == 200 and moved.json()["url"].endswith("/status/acme-inc")
    assert old_address.status_code == 404
    assert new_address.status_code == 200 and new_address.json()["title"] == "Acme, Inc."
    assert deleted.status_code == 204
    assert [answer.status_code for answer in gone] == [404, 404]


async def test_pages_are_listed_by_slug_a_page_at_a_time(server: LiveServer) -> None:
    async with await key_client(server, ApiKeyScope.WRITE) as admin:
        for slug in ("c-page", "a-page", "b-page"):
            made = await admin.post(PAGES, json={"slug": slug, "title": slug.upper()})
            assert made.status_code == 201
        first = await admin.get(PAGES, params={"limit": 2})
        second = await admin.get(first.json()["next"])
        bad = await admin.get(PAGES, params={"cursor": "nonsense"})
        too_many = await admin.get(PAGES, params={"limit": 5000})
    assert [page["slug"] for page in first.json()["status_pages"]] == ["a-page", "b-page"]
    assert first.headers["link"] == f'<{first.json()["next"]}>; rel="next"'
    assert [page["slug"] for page in second.json()["status_pages"]] == ["c-page"]
    assert second.json()["next"] is None
    assert bad.status_code == 422 and "cursor" in bad.json()["fields"]
    assert too_many.status_code == 422 and "limit" in too_many.json()["fields"]
