"""Status badges over HTTP on both databases: SVG and shields.io JSON for a monitor or a
tag, unguessable keys, caching, and who may make them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from tests.server.dashboard.conftest import add_user, client_for, csrf_token, log_in
from tests.server.dashboard.status_data import (
    INTERNAL_NAME,
    http_monitor,
    no_pages_or_badges,
)
from tests.server.live import LiveServer
from tests.server.results_data import set_state
from tocsin.server.storage.users import Role

__all__ = ["no_pages_or_badges"]  # the autouse fixture, used by every test here

_KEY = re.compile(r"/badge/([A-Za-z0-9_-]+)\.svg")


async def make_badge(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    """Post the new-badge form."""
    token = csrf_token(await client.get("/ui/badges"))
    return await client.post("/ui/badges", data={"csrf_token": token, **fields})


async def badge_keys(client: httpx.AsyncClient) -> list[str]:
    """The keys of the badges listed on the badges page, oldest first."""
    return list(dict.fromkeys(_KEY.findall((await client.get("/ui/badges")).text)))


async def test_a_monitor_badge_shows_its_state_as_svg_and_shields_json(
    server: LiveServer,
) -> None:
    api = await server.create_monitor(**http_monitor(INTERNAL_NAME))
    await set_state(server.database, api, "up", 0, 2, datetime.now(UTC))
    await add_user(server, "ada")
    async with client_for(server) as admin:
        await log_in(admin, "ada")
        created = await make_badge(admin, monitor=INTERNAL_NAME, tag="", label="api")
        (key,) = await badge_keys(admin)
    async with client_for(server) as visitor:
        svg = await visitor.get(f"/badge/{key}.svg")
        endpoint = await visitor.get(f"/badge/{key}.json")
        await set_state(server.database, api, "down", 2, 0, datetime.now(UTC))
        down_svg = await visitor.get(f"/badge/{key}.svg")
        down_json = await visitor.get(f"/badge/{key}.json")
    assert created.status_code == 303
    assert len(key) >= 32
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.headers["cache-control"] == "public, max-age=30, stale-while-revalidate=30"
    assert svg.text.startswith("<svg") and "<title>api: up</title>" in svg.text
    assert 'fill="#4c1"' in svg.text
    assert endpoint.json() == {
        "schemaVersion": 1,
        "label": "api",
        "message": "up",
        "color": "brightgreen",
    }
    assert "<title>api: down</title>" in down_svg.text and 'fill="#e05d44"' in down_svg.text
    assert down_json.json()["message"] == "down" and down_json.json()["color"] == "red"
    for answer in (svg, endpoint):
        assert INTERNAL_NAME not in answer.text and "127.0.0.1" not in answer.text


async def test_a_tag_badge_combines_its_monitors(server: LiveServer) -> None:
    first = await server.create_monitor(**http_monitor("a-internal", tags=["shop"]))
    second = await server.create_monitor(**http_monitor("b-internal", tags=["shop"]))
    await server.create_monitor(**http_monitor("c-internal", tags=["other"]))
    now = datetime.now(UTC)
    for monitor in (first, second):
        await set_state(server.database, monitor, "up", 0, 2, now)
    await add_user(server, "ada")
    async with client_for(server) as admin:
        await log_in(admin, "ada")
        await make_badge(admin, monitor="", tag="shop", label="shop")
        (key,) = await badge_keys(admin)
        listing = (await admin.get("/ui/badges")).text
    async with client_for(server) as visitor:
        all_up = (await visitor.get(f"/badge/{key}.json")).json()
        await set_state(server.database, second, "down", 2, 0, now)
        one_down = (await visitor.get(f"/badge/{key}.json")).json()
        await set_state(server.database, first, "down", 2, 0, now)
        all_down = (await visitor.get(f"/badge/{key}.json")).json()
    assert "tag shop" in listing
    assert "img.shields.io/endpoint?url=http%3A//" in listing
    assert (all_up["message"], all_up["color"]) == ("up", "brightgreen")
    assert (one_down["message"], one_down["color"]) == ("degraded", "yellow")
    assert (all_down["message"], all_down["color"]) == ("down", "red")


async def test_unknown_or_deleted_keys_are_404(server: LiveServer) -> None:
    await server.create_monitor(**http_monitor(INTERNAL_NAME))
    await add_user(server, "ada")
    async with client_for(server) as admin:
        await log_in(admin, "ada")
        await make_badge(admin, monitor=INTERNAL_NAME, tag="", label="status")
        (key,) = await badge_keys(admin)
        async with client_for(server) as visitor:
            known = await visitor.get(f"/badge/{key}.svg")
            near = await visitor.get(f"/badge/{key[:-1]}{'A' if key[-1] != 'A' else 'B'}.svg")
            unknown = await visitor.get("/badge/not-a-key.json")
            page = await admin.get("/ui/badges")
            badge_id = re.search(r'action="/ui/badges/(\d+)/delete"', page.text)
            assert badge_id is not None
            deleted = await admin.post(
                f"/ui/badges/{badge_id.group(1)}/delete", data={"csrf_token": csrf_token(page)}
            )
            gone = await visitor.get(f"/badge/{key}.svg")
    assert known.status_code == 200
    assert [near.status_code, unknown.status_code] == [404, 404]
    assert deleted.status_code == 303
    assert gone.status_code == 404


async def test_a_badge_with_the_current_copy_gets_304(server: LiveServer) -> None:
    await server.create_monitor(**http_monitor(INTERNAL_NAME))
    await add_user(server, "ada")
    async with client_for(server) as admin:
        await log_in(admin, "ada")
        await make_badge(admin, monitor=INTERNAL_NAME, tag="", label="status")
        (key,) = await badge_keys(admin)
    async with client_for(server) as visitor:
        first = await visitor.get(f"/badge/{key}.svg")
        again = await visitor.get(
            f"/badge/{key}.svg", headers={"If-None-Match": first.headers["etag"]}
        )
    assert "status: unknown" in first.text  # never checked yet
    assert again.status_code == 304 and again.content == b""


async def test_badges_need_one_target_and_a_label(server: LiveServer) -> None:
    await add_user(server, "ada")
    async with client_for(server) as admin:
        await log_in(admin, "ada")
        neither = await make_badge(admin, monitor="", tag="", label="status")
        unknown = await make_badge(admin, monitor="nope", tag="", label="status")
        no_label = await make_badge(admin, monitor="", tag="x", label=" ")
        assert await badge_keys(admin) == []
    assert neither.status_code == 422 and "Give a monitor or a tag" in neither.text
    assert unknown.status_code == 422 and "There is no monitor named" in unknown.text
    assert no_label.status_code == 422 and "Label must be 1-60 characters" in no_label.text


async def test_read_only_users_cannot_make_or_delete_badges(server: LiveServer) -> None:
    await server.create_monitor(**http_monitor(INTERNAL_NAME))
    await add_user(server, "ada")
    await add_user(server, "rory", Role.READ_ONLY)
    async with client_for(server) as admin:
        await log_in(admin, "ada")
        await make_badge(admin, monitor=INTERNAL_NAME, tag="", label="status")
        (key,) = await badge_keys(admin)
    async with client_for(server) as reader:
        await log_in(reader, "rory")
        listing = await reader.get("/ui/badges")
        token = csrf_token(listing)
        made = await reader.post(
            "/ui/badges", data={"csrf_token": token, "tag": "x", "label": "status"}
        )
        removed = await reader.post("/ui/badges/1/delete", data={"csrf_token": token})
        assert await badge_keys(reader) == [key]
    assert "New badge" not in listing.text
    assert [made.status_code, removed.status_code] == [403, 403]
