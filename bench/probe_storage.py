"""Probe result storage: database size and rollup time for many probed monitors.

Simulates ``--monitors`` http monitors probed every 60 s for ``--days`` (results written
with the probe engine's own insert, in bulk), runs the rollup and retention as the server
does, and prints the database size (SQLite file; PostgreSQL ``pg_database_size``), the
bytes per stored result and aggregate hour, the size projected for 10,000 monitors over
a week with the default retention, and for 400 days of hourly aggregates. Then times the
rollup of one hour of ``--rollup-monitors`` monitors x 60 results.

    .venv/bin/python bench/probe_storage.py --monitors 200 --days 2 --rollup-monitors 10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import scratch_postgres

from tocsin.server.domain.spec import monitor_spec
from tocsin.server.domain.states import ManagedBy
from tocsin.server.rollup import ResultRollup
from tocsin.server.storage.database import Database
from tocsin.server.storage.migrate import upgrade
from tocsin.server.storage.monitors import insert_monitor
from tocsin.server.storage.probe_reads import floor_hour
from tocsin.server.storage.probe_rows import HourRecord
from tocsin.server.storage.probe_writes import ProbeResultRow, insert_probe_results
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.result_rollup import read_hour, summarize, upsert_hours

OUTCOMES = [
    {"text": "status == 200", "severity": "fail", "passed": True, "resolved": 200,
     "message": "status (200) == 200"},
    {"text": "response_time < 800ms", "severity": "fail", "passed": True, "resolved": 84.2,
     "message": "response_time (84.2ms) < 800ms"},
]  # fmt: skip
TIMINGS = {"dns_ms": 0.4, "connect_ms": 1.1, "tls_ms": 12.5, "first_byte_ms": 80.3}
TARGET_MONITORS = 10_000
WEEK_RESULTS = TARGET_MONITORS * 60 * 24 * 7
YEAR_HOURS = TARGET_MONITORS * 24 * 400


async def _monitors(db: Database, count: int) -> list[int]:
    async with db.read() as conn:
        project = await default_project(conn)
    now = datetime.now(UTC)
    spec = {"kind": "http", "url": "http://127.0.0.1:9/ping", "assert": ["status == 200"]}

    def create(conn: object) -> list[int]:
        return [
            insert_monitor(
                conn,  # type: ignore[arg-type]
                project.id,
                monitor_spec({"name": f"p{i}", **spec}),
                now,
                managed_by=ManagedBy.API,
                max_monitors=None,
            ).id
            for i in range(count)
        ]

    return await db.run_write(create)


def _rows(ids: list[int], start: datetime, minutes: int) -> list[ProbeResultRow]:
    rows = []
    for minute in range(minutes):
        at = start + timedelta(minutes=minute)
        for n, monitor_id in enumerate(ids):
            verdict = "fail" if (minute + n) % 97 == 0 else "pass"
            rows.append(
                ProbeResultRow(monitor_id, at, at + timedelta(milliseconds=n % 1000), verdict,
                               None, None, 200, 50.0 + (minute * 7 + n) % 300, TIMINGS,
                               OUTCOMES, None)
            )  # fmt: skip
    return rows


async def _size(db: Database, url: str) -> int:
    if db.is_sqlite:
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    async with db.read() as conn:
        from sqlalchemy import text

        return int(
            (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar() or 0
        )


async def _count(db: Database, table: str) -> int:
    from sqlalchemy import text

    async with db.read() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar() or 0)


async def week(url: str, monitors: int, days: int) -> None:
    db = Database(url)
    try:
        empty = await _size(db, url)
        ids = await _monitors(db, monitors)
        now = floor_hour(datetime.now(UTC))
        start = now - timedelta(days=days)
        began = time.perf_counter()
        for hour in range(days * 24):
            rows = _rows(ids, start + timedelta(hours=hour), 60)
            for cut in range(0, len(rows), 20_000):
                await db.run_write(insert_probe_results, rows[cut : cut + 20_000])
        inserted = time.perf_counter() - began
        rollup = ResultRollup(db, retention=timedelta(days=7))
        began = time.perf_counter()
        await rollup.run_once(now + timedelta(minutes=10))
        rolled = time.perf_counter() - began
        size = await _size(db, url) - empty
        results = await _count(db, "probe_results")
        # Aggregates are measured on their own: 30 days of hours for every monitor.
        before = await _size(db, url)
        fake = [
            (m, HourRecord("", start - timedelta(hours=h), 60, 1, 0, 80.0, 200.0, 310.0))
            for m in ids
            for h in range(1, 24 * 30 + 1)
        ]
        for cut in range(0, len(fake), 20_000):
            await db.run_write(upsert_hours, fake[cut : cut + 20_000])
        hours_size = await _size(db, url) - before
        hours = len(fake)
        per_result = size / max(results, 1)
        per_hour = hours_size / max(hours, 1)
        print(f"  {results:,} results: {size / 1e6:.1f} MB "
              f"(insert {inserted:.1f} s, rollup + retention {rolled:.1f} s)")  # fmt: skip
        print(f"  ~{per_result:.0f} bytes per result, ~{per_hour:.0f} bytes per aggregate hour")
        projected = per_result * WEEK_RESULTS + per_hour * TARGET_MONITORS * 24 * 7
        print(f"  projected, 10,000 monitors at 60 s, 7-day retention: {projected / 1e9:.1f} GB")
        print(f"  projected, 400 days of hourly aggregates: {per_hour * YEAR_HOURS / 1e9:.2f} GB")
    finally:
        await db.dispose()


async def rollup_hour(url: str, monitors: int) -> None:
    db = Database(url)
    try:
        ids = await _monitors(db, monitors)
        hour = floor_hour(datetime.now(UTC)) - timedelta(hours=1)
        rows = _rows(ids, hour, 60)
        for cut in range(0, len(rows), 20_000):
            await db.run_write(insert_probe_results, rows[cut : cut + 20_000])
        began = time.perf_counter()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            async with db.read() as conn:
                results = await read_hour(conn, chunk, hour)
            await db.run_write(upsert_hours, summarize(results, hour))
        took = time.perf_counter() - began
        print(f"  rollup of one hour, {monitors:,} monitors x 60 results: {took:.1f} s")
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=200)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--rollup-monitors", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.databases.split(","):
        print(f"{backend}:")
        for job in ("week", "rollup"):
            with tempfile.TemporaryDirectory() as scratch:
                if backend == "sqlite":
                    urls = iter([f"sqlite:///{os.path.join(scratch, 'bench.db')}"])
                    url = next(urls)
                    upgrade(url)
                    _go(job, url, args)
                else:
                    with scratch_postgres() as url:
                        upgrade(url)
                        _go(job, url, args)


def _go(job: str, url: str, args: argparse.Namespace) -> None:
    if job == "week":
        asyncio.run(week(url, args.monitors, args.days))
    else:
        asyncio.run(rollup_hour(url, args.rollup_monitors))


if __name__ == "__main__":
    main()
