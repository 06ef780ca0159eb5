"""/readyz and /livez on SQLite and PostgreSQL (a lost SQLite file: test_data_dir.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.server.live import live_server
from tocsin.server.engines import Engines
from tocsin.server.storage.database import Database
from tocsin.server.storage.projects import default_project
from tocsin.server.web.app import create_app
from tocsin.server.web.metrics import ServerMetrics
from tocsin.server.web.state import ServerState
from tocsin.settings import Settings

HEALTH_JSON = "application/health+json"


async def test_ready_and_live_while_the_server_runs(database_url: str, tmp_path: Path) -> None:
    async with (
        live_server(database_url, tmp_path) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        ready = await client.get("/readyz")
        live = await client.get("/livez")
    assert ready.status_code == 200
    assert ready.headers["content-type"] == HEALTH_JSON
    body = ready.json()
    assert body["status"] == "pass"
    assert body["checks"]["database:writable"][0]["status"] == "pass"
    assert body["checks"]["engines:running"][0]["status"] == "pass"
    assert live.status_code == 200
    assert live.json()["status"] == "pass"


@pytest.fixture
async def client_and_engines(
    db: Database, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Engines]]:
    """The server app with engines built but not started (its lifespan is not run)."""
    settings = Settings.from_env(
        {"TOCSIN_DATA_DIR": str(tmp_path), "TOCSIN_DATABASE_URL": database_url}
    )
    app = create_app(settings)
    engines = Engines(settings, db, ServerMetrics())
    async with db.read() as conn:
        project = await default_project(conn)
    app.state.tocsin = ServerState(settings, db, project, engines=engines)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin") as client:
        yield client, engines


async def test_not_ready_while_an_engine_is_not_running(
    client_and_engines: tuple[httpx.AsyncClient, Engines],
) -> None:
    client, engines = client_and_engines
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "fail"
    assert body["checks"]["database:writable"][0]["status"] == "pass"
    engines_check = body["checks"]["engines:running"][0]
    assert engines_check["status"] == "fail"
    assert "ping writer" in engines_check["output"]

    engines.start()
    try:
        assert (await client.get("/readyz")).status_code == 200
    finally:
        await engines.stop()
    assert (await client.get("/readyz")).status_code == 503
    # Stopped engines are not a reason to restart the process.
    assert (await client.get("/livez")).status_code == 200
