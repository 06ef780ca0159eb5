"""Probe leases on PostgreSQL are renewed only once less than half of them is left, not
rewritten on every pass; a pass still reports every lease it holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.server.conftest import empty_database
from tests.server.probes.test_engine import add_monitor
from tocsin.server.storage.database import Database
from tocsin.server.storage.probe_writes import hold_leases
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

    async def lease_pass(at: datetime) -> list[int]:
        return await pg.run_write(hold_leases, "node-a", at, at + LEASE, 1, at + LEASE / 2)

    assert sorted(await lease_pass(start)) == ids
    assert await lease_ends(pg) == {start + LEASE}
    early = start + timedelta(seconds=10)
    assert sorted(await lease_pass(early)) == ids
    assert await lease_ends(pg) == {start + LEASE}, "more than half left: not rewritten"
    late = start + timedelta(seconds=16)
    assert sorted(await lease_pass(late)) == ids
    assert await lease_ends(pg) == {late + LEASE}, "less than half left: renewed"
