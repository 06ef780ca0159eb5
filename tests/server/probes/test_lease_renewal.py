"""Probe leases on PostgreSQL are renewed only once less than half of them is left, not
rewritten on every pass; a pass still counts every lease it holds and names the ones it
claimed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.server.conftest import empty_database
from tests.server.probes.test_engine import add_monitor
from tocsin.server.storage.database import Database
from tocsin.server.storage.probe_writes import LeasePass, hold_leases
from tocsin.server.storage.tables import monitors

LEASE = timedelta(seconds=30)


@pytest.fixture
async def pg(migrated_postgres_url: str) -> AsyncIterator[Database]:
    database = Database(migrated_postgres_url)
    try:
        yield database
    finally:
        await database.dispose()
        await empty_database(migrated_postgres_url)


async def lease_ends(db: Database) -> set[datetime]:
    async with db.read() as conn:
        rows = await conn.execute(select(monitors.c.lease_until))
        return {until for (until,) in rows.all()}


async def test_leases_are_renewed_only_in_their_second_half(pg: Database) -> None:
    created = [
        await add_monitor(pg, {"name": f"m{i}", "kind": "tcp", "host": "127.0.0.1", "port": 9})
        for i in range(3)
    ]
    ids = sorted(record.id for record in created)
    start = datetime.now(UTC)

    async def lease_pass(at: datetime) -> LeasePass:
        return await pg.run_write(hold_leases, "node-a", at, at + LEASE, 1, at + LEASE / 2)

    assert await lease_pass(start) == LeasePass(3, ids, [])
    assert await lease_ends(pg) == {start + LEASE}
    early = start + timedelta(seconds=10)
    assert await lease_pass(early) == LeasePass(3, [], [])
    assert await lease_ends(pg) == {start + LEASE}, "more than half left: not rewritten"
    late = start + timedelta(seconds=16)
    assert await lease_pass(late) == LeasePass(3, [], [])
    assert await lease_ends(pg) == {late + LEASE}, "less than half left: renewed"


async def test_a_second_node_gets_the_newest_leases_back(pg: Database) -> None:
    created = [
        await add_monitor(pg, {"name": f"m{i}", "kind": "tcp", "host": "127.0.0.1", "port": 9})
        for i in range(4)
    ]
    ids = sorted(record.id for record in created)
    start = datetime.now(UTC)
    first = await pg.run_write(hold_leases, "node-a", start, start + LEASE, 1)
    assert first == LeasePass(4, ids, [])
    # Two more monitors appear and node-a takes them later: its newest leases.
    newer = [
        await add_monitor(pg, {"name": f"n{i}", "kind": "tcp", "host": "127.0.0.1", "port": 9})
        for i in range(2)
    ]
    later = start + timedelta(seconds=5)
    newer_ids = sorted(record.id for record in newer)
    assert await pg.run_write(hold_leases, "node-a", later, later + LEASE, 1) == LeasePass(
        6, newer_ids, []
    )
    # A second node is seen: node-a keeps its share of 3 and gives back the newest first.
    again = start + timedelta(seconds=10)
    given = await pg.run_write(hold_leases, "node-a", again, again + LEASE, 2)
    assert given.held == 3
    assert sorted(given.released) == sorted([*newer_ids, ids[-1]])
    taken = await pg.run_write(hold_leases, "node-b", again, again + LEASE, 2)
    assert taken == LeasePass(3, sorted(given.released), [])
