"""The deadline watch keeps only near deadlines in memory, and still fires far ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tocsin.server.domain.spec import monitor_spec
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor, get_monitor
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import monitors
from tocsin.server.watch.deadlines import DeadlineWatch


async def test_far_deadlines_stay_out_of_memory(db: Database) -> None:
    watch = DeadlineWatch(db, base_url="http://x", reload_seconds=1)
    far = datetime.now(UTC) + timedelta(days=1)
    for n in range(10_000):  # one monitor pinged over and over
        watch.watch(1, far + timedelta(seconds=n))
    assert watch.held == 0
    near = datetime.now(UTC) + timedelta(seconds=1)
    watch.watch(2, near)
    watch.watch(2, near + timedelta(milliseconds=1))
    assert watch.held == 2  # the stale one is dropped when it comes due


async def test_a_deadline_outside_the_horizon_fires_after_a_reload(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as conn:
        project = await default_project(conn)
        record = await create_monitor(
            conn, project.id, monitor_spec({"name": "job", "period": 60, "grace": 1}), now
        )
        # As if pinged a minute ago: grace starts now, down one second later.
        await conn.execute(
            update(monitors)
            .where(monitors.c.id == record.id)
            .values(state="up", last_ping_at=now - timedelta(seconds=60), next_deadline=now)
        )
    watch = DeadlineWatch(db, base_url="http://x", reload_seconds=1)
    await watch.reload()
    result = await watch.fire_due(datetime.now(UTC))
    assert [flip.new_state for flip in result.flips] == [MonitorState.GRACE]
    async with db.read() as conn:
        stored = await get_monitor(conn, project.id, record.uuid)
    assert stored.status.state is MonitorState.GRACE
    assert stored.status.next_deadline == now + timedelta(seconds=1)
