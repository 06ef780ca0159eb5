"""Reading probe results on both databases: the results page, the newest result and
components of each monitor, and uptime from hourly aggregates plus the unrolled tail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.server.results_data import (
    APP,
    HTTP,
    add_monitor,
    add_results,
    reading,
    result,
    set_components,
)
from tocsin.server.storage.database import Database
from tocsin.server.storage.probe_reads import (
    Window,
    floor_hour,
    hour_series,
    list_results,
    probe_views,
    uptime,
)
from tocsin.server.storage.probe_rows import HourRecord, Tally
from tocsin.server.storage.result_rollup import upsert_hours

NOW = floor_hour(datetime.now(UTC)) + timedelta(minutes=30)


async def test_results_come_newest_first_a_page_at_a_time(db: Database) -> None:
    monitor = await add_monitor(db, HTTP)
    times = [NOW - timedelta(minutes=m) for m in (5, 1, 3, 2, 4)]  # written out of order
    await add_results(db, [result(monitor.id, at) for at in times])
    async with db.read() as conn:
        first = await list_results(conn, monitor.id, limit=2)
        last = first[-1]
        rest = await list_results(conn, monitor.id, limit=10, before=(last.started_at, last.id))
    assert [r.started_at for r in first + rest] == sorted(times, reverse=True)
    assert first[0].outcomes[0].message == "status (200) == 200"
    assert first[0].timings["first_byte_ms"] == 50.0


async def test_each_monitor_shows_its_newest_result_and_its_components(db: Database) -> None:
    api = await add_monitor(db, HTTP)
    shop = await add_monitor(db, APP)
    await add_results(
        db,
        [
            result(api.id, NOW - timedelta(minutes=2), "pass"),
            result(api.id, NOW - timedelta(minutes=1), "fail"),
            result(shop.id, NOW, "fail", components=[reading("rq:workers", "fail", 0)]),
        ],
    )
    await set_components(db, shop, {"rq:workers": ("fail", 0), "rq:queue_depth": ("pass", 3)}, NOW)
    async with db.read() as conn:
        views = await probe_views(conn, [api.id, shop.id])
    newest = views[api.id].last_result
    assert newest is not None and newest.verdict == "fail"
    assert newest.outcomes[0].resolved == 503
    assert views[api.id].components == ()
    assert [(c.key, c.status, c.value) for c in views[shop.id].components] == [
        ("rq:queue_depth", "pass", 3),
        ("rq:workers", "fail", 0),
    ]
    shop_last = views[shop.id].last_result
    assert shop_last is not None and shop_last.components[0].message == "rq:workers = 0 (< 1)"


async def test_uptime_adds_rolled_hours_to_the_results_not_rolled_yet(db: Database) -> None:
    monitor = await add_monitor(db, APP)
    this_hour = floor_hour(NOW)
    rolled = this_hour - timedelta(hours=2)
    old = this_hour - timedelta(days=10)
    await db.run_write(
        upsert_hours,
        [
            (monitor.id, HourRecord("", rolled, count=60, failures=6, warnings=0)),
            (monitor.id, HourRecord("rq:workers", rolled, count=60, failures=30, warnings=0)),
            (monitor.id, HourRecord("", old, count=10, failures=10, warnings=0)),
        ],
    )
    workers = [reading("rq:workers", "pass", 2)]
    await add_results(
        db,
        [
            # Already in the rolled-up hour: must not be counted twice.
            result(monitor.id, rolled + timedelta(minutes=5), "fail", components=workers),
            result(monitor.id, rolled + timedelta(minutes=70), "fail", components=workers),
            result(monitor.id, rolled + timedelta(minutes=80), "warn", components=workers),
            result(monitor.id, this_hour + timedelta(minutes=1), "pass", components=workers),
        ],
    )
    async with db.read() as conn:
        tallies = await uptime(conn, monitor.id, NOW)
    assert tallies[Window.DAY][""] == Tally(63, 7, 1)
    assert tallies[Window.WEEK][""] == Tally(63, 7, 1)
    assert tallies[Window.MONTH][""] == Tally(73, 17, 1)
    assert tallies[Window.DAY][""].uptime_percent == pytest.approx(100 * (1 - 7 / 63))
    assert tallies[Window.DAY]["rq:workers"] == Tally(63, 30, 0)


async def test_a_monitor_without_results_has_no_uptime(db: Database) -> None:
    monitor = await add_monitor(db, HTTP)
    async with db.read() as conn:
        tallies = await uptime(conn, monitor.id, NOW)
        series = await hour_series(conn, monitor.id, Window.MONTH.since(NOW))
    assert tallies[Window.DAY].get("", Tally()).uptime_percent is None
    assert series == []
