"""The ping writer's driver-level statements store what SQLAlchemy stores, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tocsin.monitors.spec import monitor_spec
from tocsin.storage.database import Database
from tocsin.storage.hot_sql import statements_for
from tocsin.storage.monitors import create_monitor, get_monitor
from tocsin.storage.pings import list_pings
from tocsin.storage.projects import default_project
from tocsin.storage.tables import monitors, pings

# Microseconds matter: SQLite compares timestamps as text, so the text must match exactly.
PINGED = datetime(2026, 11, 24, 12, 0, 0, 0, tzinfo=UTC)
DEADLINE = PINGED + timedelta(hours=1, microseconds=1)


async def test_a_written_batch_reads_back_through_sqlalchemy(db: Database) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        spec = monitor_spec({"name": "job", "tags": ["a", "b"], "period": "1h"})
        created = await create_monitor(conn, project.id, spec, PINGED)
        other = await create_monitor(conn, project.id, monitor_spec({"name": "other"}), PINGED)

    def write(sync: Connection) -> None:
        statements = statements_for(sync)
        found = statements.monitors_by_uuid(sync, [created.uuid, "no-such-uuid"])
        assert [(m.id, m.name, m.tags) for m in found] == [(created.id, "job", ("a", "b"))]
        assert found[0].created_at == PINGED and found[0].schedule == created.schedule
        ping = (created.id, 1, PINGED, "success", 0, None, 1.5, "POST", "http")
        ping += ("127.0.0.1", "curl/8", "h\u00e9llo", 6)
        update = ("up", PINGED, None, None, DEADLINE, 1.5, 1, created.id)
        statements.write_ping_batch(sync, [ping], [update])

    await db.run_write(write)
    async with db.read() as conn:
        stored = await get_monitor(conn, project.id, created.uuid)
        (stored_ping,) = await list_pings(conn, created.id)
        untouched = await get_monitor(conn, project.id, other.uuid)
        # A query that binds the deadline through SQLAlchemy finds the row: same encoding.
        by_deadline = await conn.execute(
            select(monitors.c.id).where(monitors.c.next_deadline == DEADLINE)
        )
        by_time = await conn.execute(select(pings.c.n).where(pings.c.created_at == PINGED))
        assert by_deadline.scalars().all() == [created.id]
        assert by_time.scalars().all() == [1]
    assert stored.status.state.value == "up"
    assert stored.status.last_ping_at == PINGED
    assert stored.status.next_deadline == DEADLINE
    assert (stored.n_pings, stored.last_duration_seconds) == (1, 1.5)
    assert (stored_ping.body, stored_ping.user_agent, stored_ping.remote_addr) == (
        "h\u00e9llo",
        "curl/8",
        "127.0.0.1",
    )
    assert (stored_ping.created_at, stored_ping.exit_status, stored_ping.body_size) == (
        PINGED,
        0,
        6,
    )
    assert untouched.status == other.status and untouched.n_pings == 0
