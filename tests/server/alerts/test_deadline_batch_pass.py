"""Deadlines over many monitors at once: every one flips and alerts, in chunks that start
small (the first alerts leave at once) and grow (few transactions in all), those going
down first, even when their deadline passes while earlier chunks are being written."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import monitors, notifications
from tocsin.server.watch import deadlines
from tocsin.server.watch.deadlines import DeadlineResult, DeadlineWatch

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


async def test_a_grace_ending_while_chunks_are_written_overtakes_the_grace_entries(
    db: Database, monkeypatch: Any
) -> None:
    monkeypatch.setattr(deadlines, "CHUNK", 5)
    monkeypatch.setattr(deadlines, "MAX_CHUNK", 10)
    monkeypatch.setattr(deadlines, "PARALLEL_CHUNKS", 1)
    now = datetime.now(UTC)
    # 25 monitors start their grace; 5 others end theirs 0.1 s later.
    await silent_monitors(db, 25, "up", 60, now - timedelta(seconds=0.5), prefix="quiet")
    await silent_monitors(
        db, 5, "grace", 61, now + timedelta(seconds=0.1), prefix="urgent", new_channel=False
    )
    watch = DeadlineWatch(db, base_url="http://x")
    await watch.reload()
    chunks = flipped_chunks(db)
    # The clock stands at `now` for the first chunk, then 0.2 s later.
    result = await watch.fire_due(now, running_clock=lambda: 0.2 if chunks else 0.0)
    names = [await names_of(db, chunk) for chunk in chunks]
    assert [len(chunk) for chunk in chunks] == [5, 10, 10, 5]
    assert names[0] == {"quiet"}
    # The five going down lead the next chunk, ahead of the 20 grace entries still due.
    assert await names_of(db, chunks[1][:5]) == {"urgent"}
    assert names[1:] == [{"urgent", "quiet"}, {"quiet"}, {"quiet"}]
    assert len(result.flips) == 30 and len(result.alerts) == 5
    async with db.read() as conn:
        states = dict(
            (
                await conn.execute(
                    select(monitors.c.state, func.count()).group_by(monitors.c.state)
                )
            ).all()
        )
    assert states == {"down": 5, "grace": 25}


async def test_a_backlog_is_written_in_chunks_side_by_side(db: Database, monkeypatch: Any) -> None:
    monkeypatch.setattr(deadlines, "CHUNK", 5)
    monkeypatch.setattr(deadlines, "MAX_CHUNK", 10)
    now = datetime.now(UTC)
    # Due a second ago: a backlog, so no chunk waits for others to gather more.
    await silent_monitors(db, 45, "grace", 61, now - timedelta(seconds=1))
    watch = DeadlineWatch(db, base_url="http://x")
    await watch.reload()
    writing = 0
    most = 0
    sizes: list[int] = []
    real = db.run_write

    async def counted(work: Callable[..., Any], *args: Any) -> Any:
        nonlocal writing, most
        sizes.append(len(args[0]))
        writing += 1
        most = max(most, writing)
        try:
            return await real(work, *args)
        finally:
            writing -= 1

    db.run_write = counted  # type: ignore[method-assign]
    result = await watch.fire_due(now)
    assert len(result.alerts) == 45
    # SQLite writes chunks of 5, 10, 10, 10, 10 one at a time; PostgreSQL chunks of 5
    # (the slots share MAX_CHUNK) two side by side.
    assert sizes == ([5, 10, 10, 10, 10] if db.is_sqlite else [5] * 9)
    assert most == (1 if db.is_sqlite else deadlines.PARALLEL_CHUNKS)


async def test_a_burst_logs_a_count_per_chunk_and_a_few_flips_a_line_each(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    await silent_monitors(db, 150, "grace", 61, now, prefix="many")
    await silent_monitors(
        db, 3, "up", 60, now + timedelta(seconds=1), prefix="few", new_channel=False
    )
    watch = DeadlineWatch(db, base_url="http://x")
    await watch.reload()
    with caplog.at_level(logging.INFO, logger=deadlines.__name__):
        await watch.fire_due(now)
        burst = [r.getMessage() for r in caplog.records if r.name == deadlines.__name__]
        caplog.clear()
        await watch.fire_due(now + timedelta(seconds=1))
        few = [r.getMessage() for r in caplog.records if r.name == deadlines.__name__]
    # Chunks of 100 and 50 monitors (side by side on PostgreSQL): a count each, not 150 lines.
    assert sorted(burst) == [
        "monitors flipped count=100 down=100",
        "monitors flipped count=50 down=50",
    ]
    assert len(few) == 3
    assert all(line.startswith("monitor flipped monitor=") for line in few)
    assert all(line.endswith("old=up new=grace") for line in few)
