"""Probe leases on PostgreSQL last while their owner's ``server_nodes`` row is fresh: a
pass writes no monitor row, a node over its share gives its newest leases back, and the
leases of a node unseen for longer than the lease are taken over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from tests.server.conftest import empty_database
from tests.server.probes.test_engine import add_monitor
from tocsin.server.storage.database import Database
from tocsin.server.storage.probe_writes import LeasePass, hold_leases
from tocsin.server.storage.server_nodes import heartbeat_node
from tocsin.server.storage.tables import monitors

LEASE = timedelta(seconds=30)
EXPIRE = timedelta(minutes=10)


@pytest.fixture
async def pg(migrated_postgres_url: str) -> AsyncIterator[Database]:
    database = Database(migrated_postgres_url)
    try:
        yield database
    finally:
        await database.dispose()
        await empty_database(migrated_postgres_url)


async def lease_rows(db: Database) -> set[tuple[str | None, datetime | None]]:
    async with db.read() as conn:
        rows = await conn.execute(select(monitors.c.lease_owner, monitors.c.lease_since))
        return {(owner, since) for owner, since in rows.all()}


async def tcp_monitors(db: Database, prefix: str, count: int) -> list[int]:
    created = [
        await add_monitor(
            db, {"name": f"{prefix}{i}", "kind": "tcp", "host": "127.0.0.1", "port": 9}
        )
        for i in range(count)
    ]
    return sorted(record.id for record in created)


async def lease_pass(db: Database, node: str, at: datetime, nodes: int = 1) -> LeasePass:
    """What the engine's pass does: mark ``node`` seen at ``at``, then hold its share."""

    def run(conn: Connection) -> LeasePass:
        heartbeat_node(conn, node, at, at, at - EXPIRE)
        return hold_leases(conn, node, at, at - LEASE, nodes)

    return await db.run_write(run)


async def test_a_live_node_keeps_its_leases_without_rewriting_them(pg: Database) -> None:
    ids = await tcp_monitors(pg, "m", 3)
    start = datetime.now(UTC)
    assert await lease_pass(pg, "node-a", start) == LeasePass(3, ids, [])
    taken = await lease_rows(pg)
    assert taken == {("node-a", start)}
    for later in (timedelta(seconds=20), timedelta(minutes=5)):
        assert await lease_pass(pg, "node-a", start + later) == LeasePass(3, [], [])
        assert await lease_rows(pg) == taken, "a pass writes no monitor row"
    # Another node seen while node-a is live takes nothing of node-a's.
    now = start + timedelta(minutes=5, seconds=10)
    assert await lease_pass(pg, "node-b", now, nodes=2) == LeasePass(0, [], [])


async def test_a_node_unseen_for_longer_than_the_lease_loses_its_leases(pg: Database) -> None:
    ids = await tcp_monitors(pg, "m", 3)
    start = datetime.now(UTC)
    await lease_pass(pg, "node-a", start)
    almost = start + LEASE - timedelta(seconds=1)
    assert await lease_pass(pg, "node-b", almost) == LeasePass(0, [], []), "still live"
    lapsed = start + LEASE + timedelta(seconds=1)
    assert await lease_pass(pg, "node-b", lapsed) == LeasePass(3, ids, [])
    assert await lease_rows(pg) == {("node-b", lapsed)}


async def test_a_second_node_gets_the_newest_leases_back(pg: Database) -> None:
    ids = await tcp_monitors(pg, "m", 4)
    start = datetime.now(UTC)
    assert await lease_pass(pg, "node-a", start) == LeasePass(4, ids, [])
    # Two more monitors appear and node-a takes them later: its newest leases.
    newer_ids = await tcp_monitors(pg, "n", 2)
    later = start + timedelta(seconds=5)
    assert await lease_pass(pg, "node-a", later) == LeasePass(6, newer_ids, [])
    # A second node is seen: node-a keeps its share of 3 and gives back the newest first.
    again = start + timedelta(seconds=10)
    given = await lease_pass(pg, "node-a", again, nodes=2)
    assert given.held == 3
    assert sorted(given.released) == sorted([*newer_ids, ids[-1]])
    taken = await lease_pass(pg, "node-b", again, nodes=2)
    assert taken == LeasePass(3, sorted(given.released), [])
