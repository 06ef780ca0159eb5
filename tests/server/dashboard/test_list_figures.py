"""The monitor list's figures on both databases: uptime per window, the last day's
latency oldest first, and uptime kept for a minute while latency stays current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.server.results_data import HTTP, add_monitor
from tocsin.server.dashboard.page_reads import list_figures
from tocsin.server.storage.database import Database
from tocsin.server.storage.probe_reads import Window, floor_hour
from tocsin.server.storage.probe_rows import HourRecord
from tocsin.server.storage.result_rollup import upsert_hours

NOW = floor_hour(datetime.now(UTC)) + timedelta(minutes=30)


def hour(hours_ago: int, failures: int, p50: float | None) -> HourRecord:
    """An aggregate of 100 checks ``hours_ago`` hours before this one."""
    return HourRecord("", floor_hour(NOW) - timedelta(hours=hours_ago), 100, failures, 0,
                      p50, None, None)  # fmt: skip


async def test_uptime_per_window_and_latency_oldest_first(db: Database) -> None:
    monitor = await add_monitor(db, HTTP)
    other = await add_monitor(db, HTTP | {"name": "quiet"})
    hours = [hour(1, 0, 80.0), hour(3, 0, None), hour(2, 10, 120.0), hour(24 * 3, 50, 90.0),
             hour(24 * 20, 100, 70.0)]  # fmt: skip
    await db.run_write(upsert_hours, [(monitor.id, h) for h in hours])
    async with db.read() as conn:
        figures = await list_figures(conn, [monitor.id, other.id], NOW)
    mine = figures[monitor.id]
    # 24 h: 10 of 300 failed; 7 d: 60 of 400; 30 d: 160 of 500.
    assert mine.uptime == pytest.approx(
        {Window.DAY: 96.6667, Window.WEEK: 85.0, Window.MONTH: 68.0}, abs=1e-3
    )
    assert mine.latency == [120.0, 80.0]  # hours without a latency are left out
    assert figures[other.id].uptime == dict.fromkeys(Window)
    assert figures[other.id].latency == []


async def test_uptime_is_kept_for_a_minute_while_latency_stays_current(db: Database) -> None:
    monitor = await add_monitor(db, HTTP)
    await db.run_write(upsert_hours, [(monitor.id, hour(2, 0, 50.0))])
    async with db.read() as conn:
        before = await list_figures(conn, [monitor.id], NOW)
    await db.run_write(upsert_hours, [(monitor.id, hour(1, 100, 60.0))])
    async with db.read() as conn:
        after = await list_figures(conn, [monitor.id], NOW)
    assert before[monitor.id].uptime[Window.DAY] == 100.0
    assert after[monitor.id].uptime == before[monitor.id].uptime
    assert after[monitor.id].latency == [50.0, 60.0]
