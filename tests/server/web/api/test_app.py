"""The API inside the real server app (``tocsin.server.web.app.create_app``), engines running."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.server.web.api.conftest import running
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key
from tocsin.server.storage.database import Database
from tocsin.server.web.app import create_app
from tocsin.settings import Settings


async def test_api_in_the_server_app(database_url: str, db: Database, tmp_path: Path) -> None:
    async with db.write() as conn:
        key = (await create_api_key(conn, "app", ApiKeyScope.WRITE, datetime.now(UTC))).key
    settings = Settings.from_env(
        {"TOCSIN_DATA_DIR": str(tmp_path), "TOCSIN_DATABASE_URL": database_url}
    )
    app = create_app(settings)
    async with running(app):
        transport = httpx.ASGITransport(app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as client:
            created = await client.post("/api/v1/monitors", json={"name": "job", "period": 60})
            assert created.status_code == 201, created.text
            monitor = created.json()
            assert monitor["ping_url"] == f"{settings.base_url}/ping/{monitor['uuid']}"
            # A ping through the server's own ping route shows up in the API.
            assert (await client.post(f"/ping/{monitor['uuid']}", content=b"ok")).status_code == 200
            pinged = (await client.get("/api/v1/monitors/job")).json()
            assert (pinged["state"], pinged["n_pings"]) == ("up", 1)
            assert pinged["next_deadline"] is not None
            pings = (await client.get("/api/v1/monitors/job/pings")).json()["pings"]
            assert [ping["kind"] for ping in pings] == ["success"]

            missing = await client.get("/api/v1/nothing")
            assert missing.json() == {"error": "no such endpoint: /api/v1/nothing"}
            assert (
                await client.get("/api/v1/monitors", headers={"Authorization": ""})
            ).status_code == 401
            spec = (await client.get("/openapi.json")).json()
            assert "/api/v1/monitors/{key}/flips" in spec["paths"]
