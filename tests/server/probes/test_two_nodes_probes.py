"""Two ``tocsin server`` processes on one PostgreSQL database share the probes through
row leases: every monitor is probed, and none by both nodes in the same slot."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import free_port
from tests.server.conftest import empty_database
from tests.server_process import ServerProcess
from tocsin.server.domain.spec import monitor_spec
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor

MONITORS = 12
SECONDS = 8.0


@asynccontextmanager
async def counting_target() -> AsyncIterator[tuple[str, dict[int, list[float]]]]:
    """An HTTP server recording when each ``/m/{i}`` was requested (monotonic seconds)."""
    seen: dict[int, list[float]] = defaultdict(list)

    async def hit(request: web.Request) -> web.Response:
        seen[int(request.match_info["i"])].append(time.monotonic())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/m/{i}", hit)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


@pytest.mark.slow
async def test_two_nodes_probe_every_monitor_once_per_slot(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    url = migrated_postgres_url
    env = {"TOCSIN_PROBE_RELOAD_SECONDS": "1", "TOCSIN_PROBE_LEASE_SECONDS": "5"}
    nodes = [ServerProcess(tmp_path / name, url, **env) for name in ("a", "b")]
    async with counting_target() as (target, seen):
        database = Database(url)
        try:
            async with database.write() as conn:
                for i in range(MONITORS):
                    spec = monitor_spec(
                        {"name": f"m{i}", "kind": "http", "url": f"{target}/m/{i}", "interval": 1}
                    )
                    await create_monitor(conn, 1, spec, datetime.now(UTC))
        finally:
            await database.dispose()
        try:
            for node in nodes:
                await asyncio.to_thread(node.start)
            await asyncio.sleep(SECONDS)
        finally:
            for node in nodes:
                await asyncio.to_thread(node.stop)
            await empty_database(url)
    assert sorted(seen) == list(range(MONITORS)), "every monitor was probed"
    for i, times in seen.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Both nodes probing a monitor would put two requests in one 1 s slot.
        assert min(gaps, default=1.0) > 0.5, f"m{i} probed twice in a slot: {gaps}"
        assert len(times) >= SECONDS / 2, f"m{i} probed only {len(times)} times"
