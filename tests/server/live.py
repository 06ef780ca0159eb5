"""A real tocsin server running in the test's event loop, and a real webhook receiver.

The server is uvicorn serving ``create_app(settings)`` on a free port of 127.0.0.1; the
test talks to it over HTTP and inspects the database directly through storage functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from aiohttp import web
from sqlalchemy import select

from tests.conftest import free_port
from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import list_flips
from tocsin.server.storage.monitors import create_monitor, get_monitor, list_monitors
from tocsin.server.storage.pings import list_pings
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.rows import FlipRecord, MonitorRecord, PingRecord
from tocsin.server.storage.tables import notifications
from tocsin.server.web.app import create_app
from tocsin.server.web.serving import UVICORN_PROXY_OPTIONS
from tocsin.settings import Settings


@dataclass
class LiveServer:
    """A running server and a handle on its database."""

    base_url: str
    settings: Settings
    database: Database

    async def create_monitor(self, **fields: Any) -> MonitorRecord:
        """Create a monitor through the storage layer (as ``tocsin apply`` does locally)."""
        async with self.database.write() as conn:
            project = await default_project(conn)
            return await create_monitor(conn, project.id, monitor_spec(fields), datetime.now(UTC))

    async def create_channel(self, **fields: Any) -> None:
        """Create a channel through the storage layer."""
        async with self.database.write() as conn:
            project = await default_project(conn)
            await create_channel(conn, project.id, channel_spec(fields), datetime.now(UTC))

    async def monitor(self, key: str) -> MonitorRecord:
        """The monitor as stored now."""
        async with self.database.read() as conn:
            project = await default_project(conn)
            return await get_monitor(conn, project.id, key)

    async def monitors(self) -> list[MonitorRecord]:
        """Every monitor as stored now."""
        async with self.database.read() as conn:
            project = await default_project(conn)
            return await list_monitors(conn, project.id)

    async def pings(self, key: str) -> list[PingRecord]:
        """Stored pings of a monitor, newest first."""
        record = await self.monitor(key)
        async with self.database.read() as conn:
            return await list_pings(conn, record.id, 1000)

    async def flips(self, key: str) -> list[FlipRecord]:
        """Stored flips of a monitor, newest first."""
        record = await self.monitor(key)
        async with self.database.read() as conn:
            return await list_flips(conn, record.id, 1000)

    async def notifications(self) -> list[dict[str, Any]]:
        """Every outbox row, oldest first."""
        async with self.database.read() as conn:
            rows = await conn.execute(select(notifications).order_by(notifications.c.id))
            return [dict(row) for row in rows.mappings().all()]

    async def settled_notifications(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Outbox rows once none is pending and none is claimed (a send in flight)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            rows = await self.notifications()
            busy = [r for r in rows if r["status"] == "pending" and r["claimed_until"]]
            if not busy or asyncio.get_running_loop().time() > deadline:
                return rows
            await asyncio.sleep(0.02)

    async def ping_key(self) -> str:
        """The default project's ping key."""
        async with self.database.read() as conn:
            return (await default_project(conn)).ping_key


@asynccontextmanager
async def live_server(database_url: str, data_dir: Path, **env: str) -> AsyncIterator[LiveServer]:
    """Serve tocsin on a free port for the duration of the block."""
    port = free_port()
    settings = Settings.from_env(
        {
            "TOCSIN_DATA_DIR": str(data_dir),
            "TOCSIN_DATABASE_URL": database_url,
            "TOCSIN_PORT": str(port),
            "TOCSIN_DEADLINE_RELOAD_SECONDS": "1",
            **env,
        }
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        **UVICORN_PROXY_OPTIONS,  # the same rule as `tocsin server`
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.01)
    database = Database(database_url)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, database)
    finally:
        server.should_exit = True
        await task
        await database.dispose()


@dataclass
class Received:
    """One request the webhook receiver got."""

    at: datetime
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    """Records POSTed JSON; answers with the queued statuses first, then 200."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` requests arrived; return them."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.received)} of {count} webhooks arrived")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except TimeoutError:
                continue
        return self.received


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    """A real HTTP server on 127.0.0.1 that records webhook deliveries."""
    port = free_port()
    receiver = WebhookReceiver(f"http://127.0.0.1:{port}/hook")

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        receiver.received.append(Received(datetime.now(UTC), body, dict(request.headers)))
        receiver.arrived.set()
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "nope")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield receiver
    finally:
        await runner.cleanup()
