"""Two ``tocsin server`` processes on one PostgreSQL database share the probes fairly: a
node that starts after another took every lease gets its share, no monitor is probed by
both in the same slot, and a node killed has its leases taken over and its row expire."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.server.conftest import empty_database
from tests.server.probes.test_two_nodes_probes import counting_target
from tests.server_process import ServerProcess
from tocsin.server.domain.spec import monitor_spec
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.tables import monitors, server_nodes

MONITORS = 12
WAIT_SECONDS = 20.0
WATCH_SECONDS = 5.0


async def lease_owners(url: str) -> Counter[str | None]:
    """How many monitors each lease owner holds (``None``: no lease)."""
    database = Database(url)
    try:
        async with database.read() as conn:
            rows = await conn.execute(select(monitors.c.lease_owner))
            return Counter(owner for (owner,) in rows.all())
    finally:
        await database.dispose()


async def node_rows(url: str) -> int:
    database = Database(url)
    try:
        async with database.read() as conn:
            return len((await conn.execute(select(server_nodes.c.node))).all())
    finally:
        await database.dispose()


async def until_owners(
    url: str, ok: Callable[[Counter[str | None]], bool], what: str
) -> Counter[str | None]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        owners = await lease_owners(url)
        if ok(owners):
            return owners
        assert time.monotonic() < deadline, f"gave up waiting for {what}: {owners}"
        await asyncio.sleep(0.2)


async def until_rows(url: str, count: int, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while (rows := await node_rows(url)) != count:
        assert time.monotonic() < deadline, f"gave up waiting for {what}: {rows} rows"
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_a_node_started_late_gets_its_share_and_none_is_probed_twice(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    url = migrated_postgres_url
    env = {"TOCSIN_PROBE_RELOAD_SECONDS": "1", "TOCSIN_PROBE_LEASE_SECONDS": "5"}
    first, second = (ServerProcess(tmp_path / name, url, **env) for name in ("a", "b"))
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
            await asyncio.to_thread(first.start)
            await until_owners(url, lambda o: o[None] == 0, "the first node to hold every lease")
            await asyncio.to_thread(second.start)
            shared = await until_owners(
                url,
                lambda o: len(o) == 2 and None not in o and min(o.values()) >= MONITORS // 2,
                "both nodes to hold their share",
            )
            assert sorted(shared.values()) == [MONITORS // 2, MONITORS // 2]
            assert await node_rows(url) == 2
            seen.clear()
            await asyncio.sleep(WATCH_SECONDS)
            watched = {i: list(times) for i, times in seen.items()}
            assert await lease_owners(url) == shared, "the shares stayed put"
            await asyncio.to_thread(second.kill)  # no shutdown code: its leases must lapse
            await until_owners(url, lambda o: o[None] == 0 and len(o) == 1, "the first to take all")
            await until_rows(url, 1, "the killed node's row to expire")
            await asyncio.to_thread(first.stop)
            assert await node_rows(url) == 0, "a stopped node deletes its row"
            assert await lease_owners(url) == {None: MONITORS}, "and gives its leases up"
        finally:
            for node in (first, second):
                await asyncio.to_thread(node.stop)
            await empty_database(url)
    assert sorted(watched) == list(range(MONITORS)), "every monitor was probed"
    for i, times in watched.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Both nodes probing a monitor would put two requests in one 1 s slot.
        assert min(gaps, default=1.0) > 0.5, f"m{i} probed twice in a slot: {gaps}"
        assert len(times) >= WATCH_SECONDS / 2, f"m{i} probed only {len(times)} times"
