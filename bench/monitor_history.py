"""Query plans of the monitor page's history pages on PostgreSQL, old reads against new.

Fills a scratch database with ``--monitors`` http monitors holding a week of results a
minute apart, the same number of heartbeats with a week of pings, 2,000 flips each, and
one quiet monitor with a single old flip. Then runs ``EXPLAIN (ANALYZE, BUFFERS)`` on:

- a page of results 8,000 rows deep: ``probe_reads.list_results`` (the API's) against
  ``history_pages.results_page`` (the dashboard's), whose time bound is an index condition;
- the quiet monitor's newest flips: ``flips.list_flips`` (by id) against
  ``history_pages.flips_page`` (by time, on the monitor's own index).

Prints each plan's scan line and its execution time.

    .venv/bin/python bench/monitor_history.py --monitors 100
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from _common import create_monitors, scratch_postgres
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import list_flips
from tocsin.server.storage.history_pages import flips_page, results_page
from tocsin.server.storage.migrate import upgrade
from tocsin.server.storage.probe_reads import list_results
from tocsin.server.storage.tables import monitors, probe_results

_FILL = [
    """INSERT INTO probe_results (monitor_id, started_at, late_ms, total_ms, status_code,
           verdict, outcomes)
       SELECT m.id, now() - g * interval '60 seconds' - m.id * interval '1 ms', 0, 50, 200,
           'pass', '[]'
       FROM monitors m CROSS JOIN generate_series(1, 10080) g WHERE m.kind = 'http'""",
    """INSERT INTO pings (monitor_id, n, created_at, kind, method, scheme, body_size)
       SELECT m.id, g, now() - (10080 - g) * interval '60 seconds', 'success', 'GET', 'http', 0
       FROM monitors m CROSS JOIN generate_series(1, 10080) g WHERE m.kind = 'heartbeat'""",
    """INSERT INTO flips (monitor_id, created_at, old_state, new_state, cause)
       SELECT m.id, now() - (2000 - g) * interval '5 minutes', 'up', 'down', 'x'
       FROM generate_series(1, 2000) g CROSS JOIN monitors m
       WHERE m.name <> 'quiet-0' ORDER BY g, m.id""",
    """INSERT INTO flips (monitor_id, created_at, old_state, new_state, cause)
       SELECT id, now() - interval '8 days', 'new', 'up', 'x' FROM monitors
       WHERE name = 'quiet-0'""",
]


async def _fill(url: str, count: int) -> None:
    await asyncio.to_thread(upgrade, url)
    await create_monitors(url, count, prefix="site", kind="http", url="http://127.0.0.1:9/")
    await create_monitors(url, count, prefix="job", period="1m")
    await create_monitors(url, 1, prefix="quiet", period="1m")
    db = Database(url)
    try:
        async with db.write() as conn:
            for statement in _FILL:
                await conn.execute(text(statement))
        async with db.write() as conn:
            await conn.execute(text("ANALYZE"))
    finally:
        await db.dispose()


async def _explain(
    db: Database, label: str, call: Callable[[AsyncConnection], Awaitable[Any]]
) -> None:
    """Run ``call`` once, then EXPLAIN ANALYZE the statement it ran."""
    captured: list[tuple[str, Any]] = []

    def grab(*args: Any) -> None:
        captured.append((args[2], args[3]))

    async with db.read() as conn:
        sync = conn.sync_connection
        assert sync is not None
        event.listen(sync, "before_cursor_execute", grab)
        await call(conn)
        event.remove(sync, "before_cursor_execute", grab)
        statement, parameters = next(c for c in captured if "result_labels" not in c[0])
        plan = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        lines = [line for (line,) in plan.all()]
    shown = [
        line.strip()
        for line in lines
        if "Scan" in line or "Cond" in line or "Removed" in line or "Execution" in line
    ]
    print(f"{label}:\n  " + "\n  ".join(shown))


async def bench(url: str, count: int) -> None:
    await _fill(url, count)
    db = Database(url)
    try:
        async with db.read() as conn:
            site = (
                await conn.execute(select(monitors.c.id).where(monitors.c.name == "site-0"))
            ).scalar_one()
            quiet = (
                await conn.execute(select(monitors.c.id).where(monitors.c.name == "quiet-0"))
            ).scalar_one()
            row = (
                await conn.execute(
                    select(probe_results.c.started_at, probe_results.c.id)
                    .where(probe_results.c.monitor_id == site)
                    .order_by(probe_results.c.started_at.desc())
                    .offset(8000)
                    .limit(1)
                )
            ).one()
        deep = (row[0], row[1])
        await _explain(
            db, "results 8,000 deep, list_results", lambda c: list_results(c, site, 21, deep)
        )
        await _explain(
            db, "results 8,000 deep, results_page", lambda c: results_page(c, site, 21, before=deep)
        )
        await _explain(db, "quiet monitor's flips, list_flips", lambda c: list_flips(c, quiet, 100))
        await _explain(db, "quiet monitor's flips, flips_page", lambda c: flips_page(c, quiet, 100))
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=100)
    args = parser.parse_args()
    with scratch_postgres() as url:
        asyncio.run(bench(url, args.monitors))


if __name__ == "__main__":
    main()
