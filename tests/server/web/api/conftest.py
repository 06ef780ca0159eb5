"""API fixtures: the API mounted on a small FastAPI app, driven in-process over ASGI.

The app is built the way ``tocsin.server.web.app`` builds the real one (router, error handlers,
``app.state.tocsin``), on the parametrized ``db`` fixture, so every API test runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message

from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key
from tocsin.server.storage.database import Database
from tocsin.server.storage.projects import default_project
from tocsin.server.web.api import api_router, install_error_handlers
from tocsin.server.web.state import ServerState
from tocsin.settings import Settings


@dataclass
class WatchLog:
    """What the API told the deadline watch: ``(monitor_id, next_deadline)`` calls."""

    calls: list[tuple[int, datetime | None]] = field(default_factory=list)

    def __call__(self, monitor_id: int, deadline: datetime | None) -> None:
        self.calls.append((monitor_id, deadline))


def build_app(state: ServerState) -> FastAPI:
    """A FastAPI app serving the API, as the main application sets it up."""
    app = FastAPI(title="tocsin", docs_url="/docs", openapi_url="/openapi.json")
    app.include_router(api_router())
    install_error_handlers(app)
    app.state.tocsin = state
    return app


@asynccontextmanager
async def running(app: ASGIApp) -> AsyncIterator[None]:
    """Run ``app``'s ASGI lifespan (startup before the block, shutdown after), as a server
    would; ``httpx.ASGITransport`` only sends requests."""
    to_app: asyncio.Queue[Message] = asyncio.Queue()
    from_app: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}

    async def serve() -> None:
        await app(scope, to_app.get, from_app.put)

    task = asyncio.create_task(serve())
    await to_app.put({"type": "lifespan.startup"})
    started = await from_app.get()
    if started["type"] != "lifespan.startup.complete":
        await task  # raises the startup error
        raise RuntimeError(f"the app did not start: {started}")
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await task


async def make_key(db: Database, scope: ApiKeyScope, name: str = "test") -> str:
    """A new API key of ``scope``, as the full secret string."""
    async with db.write() as conn:
        created = await create_api_key(conn, name, scope, datetime.now(UTC))
    return created.key


@pytest.fixture
def watch_log() -> WatchLog:
    """Records the deadline-watch notifications."""
    return WatchLog()


@pytest.fixture
async def server_state(db: Database, tmp_path: Path, watch_log: WatchLog) -> ServerState:
    """A ``ServerState`` on the test database."""
    async with db.read() as conn:
        project = await default_project(conn)
    settings = Settings.from_env({"TOCSIN_DATA_DIR": str(tmp_path)})
    return ServerState(settings=settings, database=db, project=project, watch=watch_log)


@pytest.fixture
def app(server_state: ServerState) -> FastAPI:
    """The API app."""
    return build_app(server_state)


@pytest.fixture
async def write_key(db: Database) -> str:
    """A read-write key."""
    return await make_key(db, ApiKeyScope.WRITE, "writer")


@pytest.fixture
async def read_key(db: Database) -> str:
    """A read-only key."""
    return await make_key(db, ApiKeyScope.READ, "reader")


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client without a key."""
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
        yield client


@pytest.fixture
async def client(app: FastAPI, write_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a read-write key."""
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://tocsin.test",
        headers={"Authorization": f"Bearer {write_key}"},
    ) as client:
        yield client


@pytest.fixture
async def reader(app: FastAPI, read_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a read-only key, sent as ``X-Api-Key``."""
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://tocsin.test", headers={"X-Api-Key": read_key}
    ) as client:
        yield client
