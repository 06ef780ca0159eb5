"""What a ping URL may say: exit statuses are ASCII digits 0-255, slugs follow the one rule.

Over real HTTP against the real app, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.server.live import LiveServer, live_server
from tocsin.server.domain.states import MonitorState


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, tmp_path) as live:
        yield live


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        yield http


@pytest.mark.parametrize(
    ("segment", "exit_status", "state"),
    [
        pytest.param("0", 0, MonitorState.UP, id="0"),
        pytest.param("1", 1, MonitorState.DOWN, id="1"),
        pytest.param("255", 255, MonitorState.DOWN, id="255"),
        pytest.param("007", 7, MonitorState.DOWN, id="leading-zeros"),
    ],
)
async def test_ascii_exit_statuses_are_recorded(
    server: LiveServer,
    client: httpx.AsyncClient,
    segment: str,
    exit_status: int,
    state: MonitorState,
) -> None:
    monitor = await server.create_monitor(name="job")
    response = await client.get(f"/ping/{monitor.uuid}/{segment}")
    assert (response.status_code, response.text) == (200, "OK")
    [ping] = await server.pings(monitor.uuid)
    assert ping.exit_status == exit_status
    assert (await server.monitor(monitor.uuid)).status.state is state


@pytest.mark.parametrize(
    ("segment", "status", "text"),
    [
        pytest.param("%C2%B2", 404, "not found", id="superscript-two"),
        pytest.param("%D9%A1", 404, "not found", id="arabic-indic-one"),
        pytest.param("%EF%BC%91", 404, "not found", id="fullwidth-one"),
        pytest.param("%E0%A5%A7", 404, "not found", id="devanagari-one"),
        pytest.param("+1", 404, "not found", id="plus-sign"),
        pytest.param("%201", 404, "not found", id="leading-space"),
        pytest.param("1%20", 404, "not found", id="trailing-space"),
        pytest.param("-1", 404, "not found", id="minus-sign"),
        pytest.param("1.0", 404, "not found", id="decimal"),
        pytest.param("256", 400, "invalid url format", id="256"),
        pytest.param("1000", 400, "invalid url format", id="four-digits"),
        pytest.param("9" * 5000, 400, "invalid url format", id="huge"),
    ],
)
async def test_other_exit_statuses_are_refused_and_store_nothing(
    server: LiveServer, client: httpx.AsyncClient, segment: str, status: int, text: str
) -> None:
    monitor = await server.create_monitor(name="job")
    response = await client.get(f"/ping/{monitor.uuid}/{segment}")
    assert (response.status_code, response.text) == (status, text)
    assert (await server.monitor(monitor.uuid)).n_pings == 0


SLUG_ANSWER = (
    "invalid slug: may contain only a-z, 0-9, hyphens and underscores (1 to 100 characters)"
)


@pytest.mark.parametrize(
    "slug",
    [
        pytest.param("ab%0A", id="newline"),
        pytest.param("ab%0D%0A", id="crlf"),
        pytest.param("ab%20", id="space"),
        pytest.param("Ab", id="upper-case"),
        pytest.param("%C3%BC", id="non-ascii"),
        pytest.param("a" * 101, id="too-long"),
    ],
)
@pytest.mark.parametrize("query", ["?create=1", ""], ids=["create", "plain"])
async def test_a_slug_breaking_the_rule_is_400_and_creates_nothing(
    server: LiveServer, client: httpx.AsyncClient, slug: str, query: str
) -> None:
    key = await server.ping_key()
    response = await client.get(f"/ping/{key}/{slug}{query}")
    assert (response.status_code, response.text) == (400, SLUG_ANSWER)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert await server.monitors() == []


async def test_the_api_refuses_the_slug_the_ping_route_refuses(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    from datetime import UTC, datetime

    from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key

    async with server.database.write() as conn:
        created = await create_api_key(conn, "t", ApiKeyScope.WRITE, datetime.now(UTC))
    headers = {"Authorization": f"Bearer {created.key}"}
    answer = await client.post(
        "/api/v1/monitors", json={"name": "ab", "slug": "ab\n"}, headers=headers
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"]["slug"] == SLUG_ANSWER.removeprefix("invalid slug: ")
    key = await server.ping_key()
    created_by_ping = await client.get(f"/ping/{key}/ab?create=1")
    assert (created_by_ping.status_code, created_by_ping.text) == (201, "Created")
    [monitor] = await server.monitors()
    # A PATCH that does not touch the slug keeps it exactly.
    patched = await client.patch(
        f"/api/v1/monitors/{monitor.uuid}", json={"grace": "5m"}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["slug"] == "ab"
