"""``HEAD`` on the public addresses (status pages, their JSON, badges) over HTTP on both
databases: the headers ``GET`` sends, no body; and revalidation by ETag."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.server.dashboard.conftest import client_for
from tests.server.dashboard.status_data import (
    INTERNAL_NAME,
    http_monitor,
    make_history,
    no_pages_or_badges,
)
from tests.server.dashboard.test_status_pages import shop_page
from tests.server.live import LiveServer
from tocsin.server.storage.badges import create_badge
from tocsin.server.storage.projects import default_project

__all__ = ["no_pages_or_badges"]  # the autouse fixture, used by every test here

_SAME = ("content-type", "content-length", "etag", "cache-control", "x-content-type-options")


async def get_and_head(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, ...]:
    """``GET`` then ``HEAD`` of ``path``; once more if a minute turned in between (the
    page is computed as of the minute, so its ETag may change then)."""
    for _ in range(2):
        got, head = await client.get(path), await client.head(path)
        if got.headers.get("etag") == head.headers.get("etag"):
            break
    return got, head


async def test_head_answers_a_status_page_and_its_json_like_get_without_a_body(
    server: LiveServer,
) -> None:
    await make_history(server, datetime.now(UTC))
    await shop_page(server)
    async with client_for(server) as visitor:
        page, page_head = await get_and_head(visitor, "/status/acme")
        data, data_head = await get_and_head(visitor, "/status/acme.json")
    for got, head in [(page, page_head), (data, data_head)]:
        assert got.status_code == 200 and head.status_code == 200
        assert head.content == b""
        assert {name: head.headers.get(name) for name in _SAME} == {
            name: got.headers.get(name) for name in _SAME
        }
        assert int(head.headers["content-length"]) == len(got.content) > 0
    assert page_head.headers["content-type"] == "text/html; charset=utf-8"
    assert data_head.headers["content-type"] == "application/json"


async def test_head_with_the_current_etag_gets_304(server: LiveServer) -> None:
    await make_history(server, datetime.now(UTC))
    await shop_page(server)
    async with client_for(server) as visitor:
        etag = (await visitor.get("/status/acme")).headers["etag"]
        again = await visitor.head("/status/acme", headers={"If-None-Match": etag})
        json_etag = (await visitor.get("/status/acme.json")).headers["etag"]
        json_again = await visitor.get("/status/acme.json", headers={"If-None-Match": json_etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    assert json_again.status_code == 304 and json_again.content == b""
    assert json_etag != etag  # two bodies, two versions


async def test_head_of_an_unknown_page_is_404(server: LiveServer) -> None:
    async with client_for(server) as visitor:
        page = await visitor.head("/status/nope")
        data = await visitor.head("/status/nope.json")
        got = await visitor.get("/status/nope.json")
    assert page.status_code == 404 and data.status_code == 404
    assert page.content == b"" and data.content == b""
    assert got.json() == {"error": "no such status page"}
    assert got.headers["cache-control"] == "no-store"


async def test_head_answers_badges_like_get_without_a_body(server: LiveServer) -> None:
    api = await server.create_monitor(**http_monitor(INTERNAL_NAME))
    async with server.database.write() as conn:
        project = await default_project(conn)
        badge = await create_badge(
            conn, project.id, monitor_id=api.id, tag=None, label="api", now=datetime.now(UTC)
        )
    async with client_for(server) as visitor:
        answers = {
            suffix: await get_and_head(visitor, f"/badge/{badge.key}.{suffix}")
            for suffix in ("svg", "json")
        }
        unknown = await visitor.head("/badge/" + "x" * 32 + ".svg")
    for got, head in answers.values():
        assert got.status_code == 200 and head.status_code == 200
        assert head.content == b""
        assert {name: head.headers.get(name) for name in _SAME} == {
            name: got.headers.get(name) for name in _SAME
        }
    assert answers["svg"][1].headers["content-type"] == "image/svg+xml"
    assert unknown.status_code == 404
