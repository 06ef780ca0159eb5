"""The result rollup on both databases: hourly aggregates of ended hours (idempotent,
catching up after a stop), per component, and both retentions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.server.results_data import APP, HTTP, add_monitor, add_results, reading, result
from tocsin.server.rollup import ResultRollup
from tocsin.server.storage.database import Database
from tocsin.server.storage.probe_reads import floor_hour, hour_series
from tocsin.server.storage.probe_rows import HourRecord
from tocsin.server.storage.result_rollup import RawResult, percentile, summarize, upsert_hours
from tocsin.server.storage.tables import probe_results

HOUR = timedelta(hours=1)
NOW = floor_hour(datetime.now(UTC)) + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        pytest.param([], 0.5, None, id="none"),
        pytest.param([7.0], 0.95, 7.0, id="one"),
        pytest.param([1.0, 2.0, 3.0, 4.0], 0.5, 2.0, id="median-of-four-is-the-lower"),
        pytest.param([float(n) for n in range(1, 101)], 0.95, 95.0, id="p95-of-100"),
        pytest.param([float(n) for n in range(1, 101)], 1.0, 100.0, id="max"),
    ],
)
def test_percentile_is_the_nearest_rank(
    values: list[float], fraction: float, expected: float | None
) -> None:
    assert percentile(values, fraction) == expected


def test_an_hour_summarises_monitors_and_components() -> None:
    hour = floor_hour(NOW)
    results = [
        RawResult(1, hour + timedelta(minutes=m), verdict, ms, components)
        for m, verdict, ms, components in [
            (3, "pass", 30.0, [{"key": "rq:workers", "status": "pass", "value": 2}]),
            (1, "warn", 10.0, [{"key": "rq:workers", "status": "pass", "value": 5}]),
            (2, "fail", None, [{"key": "rq:workers", "status": "fail", "value": 0}]),
            (4, "fail", 20.0, [{"key": "rq:workers", "status": "fail", "value": "n/a"}]),
        ]
    ]
    summaries = {(m, r.component_key): r for m, r in summarize(results, hour)}
    assert summaries[(1, "")] == HourRecord("", hour, 4, 2, 1, 20.0, 30.0, 30.0)
    assert summaries[(1, "rq:workers")] == HourRecord(
        "rq:workers", hour, 4, 2, 0, value_min=0.0, value_max=5.0, value_last=2.0
    )


async def test_ended_hours_are_rolled_up_once_settled_and_again_to_the_same(
    db: Database,
) -> None:
    monitor = await add_monitor(db, HTTP)
    this_hour = floor_hour(NOW)
    earlier = this_hour - 2 * HOUR
    await add_results(
        db,
        [result(monitor.id, earlier + timedelta(minutes=m), "pass", 10.0 * m) for m in range(1, 11)]
        + [result(monitor.id, earlier + HOUR, "fail", None)]
        + [result(monitor.id, this_hour + timedelta(minutes=1), "fail")],
    )
    rollup = ResultRollup(db, retention=timedelta(days=7))
    await rollup.run_once(NOW)
    async with db.read() as conn:
        first = await hour_series(conn, monitor.id, earlier - HOUR)
    # The current hour has not ended: it stays raw.
    assert [(h.hour, h.count, h.failures) for h in first] == [
        (earlier, 10, 0),
        (earlier + HOUR, 1, 1),
    ]
    assert (first[0].latency_p50, first[0].latency_p95, first[0].latency_max) == (
        50.0,
        100.0,
        100.0,
    )
    assert first[1].latency_p50 is None

    again = ResultRollup(db, retention=timedelta(days=7))  # a restarted server
    await again.run_once(NOW)
    async with db.read() as conn:
        assert await hour_series(conn, monitor.id, earlier - HOUR) == first


async def test_a_restart_catches_up_every_missed_hour(db: Database) -> None:
    monitor = await add_monitor(db, APP)
    start = floor_hour(NOW) - 6 * HOUR
    workers = [reading("rq:workers", "pass", 3)]
    await add_results(
        db,
        [
            result(monitor.id, start + n * HOUR + timedelta(minutes=5), components=workers)
            for n in range(6)
        ],
    )
    first = ResultRollup(db, retention=timedelta(days=7))
    await first.run_once(start + 2 * HOUR + timedelta(minutes=10))  # rolls hours 0 and 1
    later = ResultRollup(db, retention=timedelta(days=7))
    await later.run_once(NOW)
    async with db.read() as conn:
        own = await hour_series(conn, monitor.id, start)
        workers_hours = await hour_series(conn, monitor.id, start, "rq:workers")
    assert [h.hour for h in own] == [start + n * HOUR for n in range(6)]
    assert [(h.count, h.value_last) for h in workers_hours] == [(1, 3.0)] * 6


async def test_retention_deletes_old_results_but_never_unrolled_ones(db: Database) -> None:
    monitor = await add_monitor(db, HTTP)
    this_hour = floor_hour(NOW)
    old = [result(monitor.id, this_hour - timedelta(days=8, minutes=m)) for m in (1, 2, 3)]
    fresh = [result(monitor.id, this_hour - timedelta(days=1))]
    await add_results(db, old + fresh)
    await db.run_write(
        upsert_hours,
        [(monitor.id, HourRecord("", this_hour - timedelta(days=401), 5, 0, 0))],
    )
    rollup = ResultRollup(db, retention=timedelta(days=7))
    # Stopped two weeks ago: the old hours are rolled up before their results go.
    await rollup.run_once(NOW)
    async with db.read() as conn:
        kept = await conn.scalar(select(func.count()).select_from(probe_results))
        hours = await hour_series(conn, monitor.id, this_hour - timedelta(days=500))
    assert kept == 1
    assert [(h.hour, h.count) for h in hours] == [
        (this_hour - timedelta(days=8, hours=1), 3),
        (this_hour - timedelta(days=1), 1),
    ]
