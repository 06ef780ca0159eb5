"""``GET /api/v1/project``: the project's name, ping key and slug ping URL template."""

from __future__ import annotations

import httpx

from tocsin.server.web.state import ServerState


async def test_any_key_reads_the_ping_key_and_the_slug_url_template(
    reader: httpx.AsyncClient, client: httpx.AsyncClient, server_state: ServerState
) -> None:
    ping_key = server_state.project.ping_key
    base = server_state.settings.base_url
    expected = {
        "name": server_state.project.name,
        "ping_key": ping_key,
        "slug_ping_url": f"{base}/ping/{ping_key}/{{slug}}",
    }
    read_only = await reader.get("/api/v1/project")
    assert (read_only.status_code, read_only.json()) == (200, expected)
    read_write = await client.get("/api/v1/project")
    assert (read_write.status_code, read_write.json()) == (200, expected)


async def test_without_a_key_the_ping_key_is_not_shown(anonymous: httpx.AsyncClient) -> None:
    answer = await anonymous.get("/api/v1/project")
    assert answer.status_code == 401
    assert answer.json() == {"error": answer.json()["error"]}
    assert "ping_key" not in answer.text
