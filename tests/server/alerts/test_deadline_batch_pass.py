"""A deadline pass over many monitors at once: every one flips and alerts, in chunks that
start small (the first alerts leave at once) and grow (few transactions in all)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import monitors, notifications
from tocsin.server.watch import deadlines
from tocsin.server.watch.deadlines import CHUNK, MAX_CHUNK, DeadlineResult, DeadlineWatch, chunked

MONITORS = 450


async def silent_monitors(
    db: Database,
    count: int,
    state: str,
    silent_for: float,
    due: datetime,
    prefix: str = "job",
    new_channel: bool = True,
) -> None:
    """``count`` heartbeats (period 60 s, grace 1 s) alerting webhook channel ``ops`` (made
    here with ``new_channel``), in ``state``, last pinged ``silent_for`` seconds before
    ``due``, their deadline."""
    async with db.write() as conn:
        project = await default_project(conn)
        if new_channel:
            spec = channel_spec({"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/"})
            await create_channel(conn, project.id, spec, due)
        for n in range(count):
            config = {"name": f"{prefix}-{n}", "period": 60, "grace": 1, "channels": ["ops"]}
            await create_monitor(conn, project.id, monitor_spec(config), due)
        await conn.execute(
            update(monitors)
            .where(monitors.c.name.like(f"{prefix}-%"))
            .values(
                state=state,
                last_ping_at=due - timedelta(seconds=silent_for),
                next_deadline=due,
            )
        )


def test_chunks_start_small_and_grow_to_the_largest() -> None:
    due = list(range(5000))
    chunks = chunked(due)
    assert [len(chunk) for chunk in chunks] == [CHUNK, 200, 400, 800, *[MAX_CHUNK] * 3, 500]
    assert [monitor for chunk in chunks for monitor in chunk] == due  # in order, all once
    assert chunked([]) == []


async def test_a_big_pass_alerts_every_monitor_chunk_by_chunk(db: Database) -> None:
    now = datetime.now(UTC)
    await silent_monitors(db, MONITORS, "grace", 61, now)
    handed: list[DeadlineResult] = []
    watch = DeadlineWatch(db, base_url="http://x", on_fired=handed.append)
    await watch.reload()
    result = await watch.fire_due(datetime.now(UTC))
    assert len(result.flips) == MONITORS
    assert {flip.new_state for flip in result.flips} == {MonitorState.DOWN}
    assert len(result.alerts) == MONITORS
    # Each chunk's alerts were handed over as it committed: 100, then 200, then the rest.
    assert sorted(len(chunk.alerts) for chunk in handed) == [100, 150, 200]
    async with db.read() as conn:
        queued = (await conn.execute(select(func.count()).select_from(notifications))).scalar()
        states = (await conn.execute(select(monitors.c.state).distinct())).scalars().all()
    assert queued == MONITORS
    assert states == ["down"]


async def test_a_reload_does_not_hold_a_deadline_twice(db: Database) -> None:
    now = datetime.now(UTC) + timedelta(seconds=2)
    await silent_monitors(db, 20, "up", 60, now)
    watch = DeadlineWatch(db, base_url="http://x", reload_seconds=5)
    await watch.reload()
    await watch.reload()
    assert watch.held == 20
    result = await watch.fire_due(now)
    assert len(result.flips) == 20
    assert watch.held == 20  # each one's next deadline (down, a second later)


async def names_of(db: Database, ids: list[int]) -> set[str]:
    async with db.read() as conn:
        rows = await conn.execute(select(monitors.c.name).where(monitors.c.id.in_(ids)))
        return {name.split("-")[0] for name in rows.scalars()}


def flipped_chunks(db: Database) -> list[list[int]]:
    """The monitor ids of each chunk the watch writes from now on, in the order it starts
    them (on PostgreSQL a few are written side by side)."""
    chunks: list[list[int]] = []
    real = db.run_write

    async def spied(work: Callable[..., Any], *args: Any) -> Any:
        chunks.append(list(args[0]))
        return await real(work, *args)

    db.run_write = spied  # type: ignore[method-assign]
    return chunks


async def test_monitors_going_down_go_first(db: Database) -> None:
    now = datetime.now(UTC)
    # 100 monitors start their grace half a second before 100 others end theirs.
    await silent_monitors(db, 100, "grace", 61, now, prefix="late")
    await silent_monitors(
        db, 100, "up", 60, now - timedelta(seconds=0.5), prefix="quiet", new_channel=False
    )
    watch = DeadlineWatch(db, base_url="http://x")
    await watch.reload()
    chunks = flipped_chunks(db)
    result = await watch.fire_due(now)
    assert [await names_of(db, chunk) for chunk in chunks] == [{"late"}, {"quiet"}]
    assert len(result.alerts) == 100
    # Those now in grace go first again when their grace ends with others' starting.
    later = now + timedelta(seconds=1)
    await silent_monitors(
        db, 100, "up", 60, later - timedelta(seconds=0.5), prefix="other", new_channel=False
    )
    await watch.reload()
    chunks.clear()
    await watch.fire_due(later)
    assert [await names_of(db, chunk) for chunk in chunks] == [{"quiet"}, {"other"}]


async def test_a_burst_is_worked_off_in_passes_with_the_monitors_going_down_first(
    db: Database, monkeypatch: Any
) -> None:
    monkeypatch.setattr(deadlines, "CHUNK", 5)
    monkeypatch.setattr(deadlines, "MAX_CHUNK", 10)
    limit = 10 if db.is_sqlite else 10 * deadlines.PARALLEL_CHUNKS
    now = datetime.now(UTC)
    await silent_monitors(db, limit + 5, "grace", 61, now, prefix="late")
    await silent_monitors(
        db, 5, "up", 60, now - timedelta(seconds=0.5), prefix="quiet", new_channel=False
    )
    watch = DeadlineWatch(db, base_url="http://x")
    await watch.reload()
    first = await watch.fire_due(now)
    # One pass flips at most a largest chunk per transaction it writes at once, those
    # going down first; the rest stay due.
    assert len(first.flips) == limit
    assert {flip.new_state for flip in first.flips} == {MonitorState.DOWN}
    # A monitor whose grace ends meanwhile overtakes the grace entries still waiting.
    later = now + timedelta(seconds=0.2)
    await silent_monitors(
        db, 5, "grace", 61.1, now + timedelta(seconds=0.1), prefix="urgent", new_channel=False
    )
    await watch.reload()
    chunks = flipped_chunks(db)
    second = await watch.fire_due(later)
    # The pass after a backlog starts with a largest chunk: no small first one.
    assert [await names_of(db, chunk) for chunk in chunks] == [{"late", "urgent"}, {"quiet"}][
        : len(chunks)
    ]
    assert len(chunks[0]) == 10
    if db.is_sqlite:  # the grace entries are left for the pass after
        assert len(second.flips) == 10
        third = await watch.fire_due(later)
        assert {flip.new_state for flip in third.flips} == {MonitorState.GRACE}
        assert len(third.flips) == 5
    else:
        assert len(second.flips) == 15
    async with db.read() as conn:
        states = dict(
            (
                await conn.execute(
                    select(monitors.c.state, func.count()).group_by(monitors.c.state)
                )
            ).all()
        )
    assert states == {"down": limit + 10, "grace": 5}
