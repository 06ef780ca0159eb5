"""Query plans of a monitor's history pages on PostgreSQL: the monitor page's and the API's.

Fills a scratch database with ``--monitors`` http monitors holding a week of results a
minute apart, the same number of heartbeats with a week of pings, 2,000 flips each, and
one quiet monitor with a single old flip. Then, for each page below, prints the plan's
scan lines and execution time from ``EXPLAIN (ANALYZE, BUFFERS)``:

- a page of results 8,000 rows deep;
- the quiet monitor's newest flips (ordered by id, PostgreSQL would walk every monitor's
  flips by primary key to find its one);
- a busy monitor's second page of 1,000 flips, and of 1,000 pings.

By default it runs the storage reads (``history_pages``, which the monitor page and the
API share). With ``--api`` it asks ``/api/v1/monitors/{key}/results|flips|pings`` for the
same pages over in-process HTTP (ASGI), ``--repeat`` times each, and prints each request's
median and best time besides the plan of the statement the request ran. Those pages are
reached as a client reaches them (the results cursor encoded as the API encodes it, the
second pages by following ``next``), so ``--api`` measures any version of the API: run
this file against an older checkout for a before figure::

    .venv/bin/python bench/monitor_history.py --monitors 100
    .venv/bin/python bench/monitor_history.py --monitors 100 --api
    PYTHONPATH=/tmp/old/src .venv/bin/python bench/monitor_history.py --api   # old code
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
from _common import create_monitors, scratch_postgres
from fastapi import FastAPI
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key
from tocsin.server.storage.database import Database
from tocsin.server.storage.history_pages import flips_page, pings_page, results_page
from tocsin.server.storage.migrate import upgrade
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import flips, monitors, pings, probe_results
from tocsin.server.web.api import api_router, install_error_handlers
from tocsin.server.web.api.paging import encode_cursor
from tocsin.server.web.state import ServerState
from tocsin.settings import Settings

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
_LISTS = (probe_results.name, flips.name, pings.name)
Captured = list[tuple[str, Any]]


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


def _listing(captured: Captured) -> tuple[str, Any]:
    """The statement that read a history list (not the monitor, key or label look-ups)."""
    return next(
        (statement, parameters)
        for statement, parameters in captured
        if any(f"FROM {table}" in statement for table in _LISTS)
        and "result_labels" not in statement
    )


async def _plan(db: Database, statement: str, parameters: Any) -> list[str]:
    """The scan lines and execution time of ``EXPLAIN (ANALYZE, BUFFERS)``."""
    async with db.read() as conn:
        plan = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        lines = [line for (line,) in plan.all()]
    return [
        line.strip()
        for line in lines
        if "Scan" in line or "Cond" in line or "Removed" in line or "Execution" in line
    ]


async def _explain_read(
    db: Database, label: str, call: Callable[[AsyncConnection], Awaitable[Any]]
) -> None:
    """Run ``call`` once, then EXPLAIN ANALYZE the list statement it ran."""
    captured: Captured = []

    def grab(*args: Any) -> None:
        captured.append((args[2], args[3]))

    async with db.read() as conn:
        sync = conn.sync_connection
        assert sync is not None
        event.listen(sync, "before_cursor_execute", grab)
        await call(conn)
        event.remove(sync, "before_cursor_execute", grab)
    shown = await _plan(db, *_listing(captured))
    print(f"{label}:\n  " + "\n  ".join(shown))


class _Ids:
    """The monitors and rows the pages start from."""

    def __init__(self, site: int, job: int, quiet: int, deep: tuple[datetime, int]) -> None:
        self.site, self.job, self.quiet, self.deep = site, job, quiet, deep

    @classmethod
    async def find(cls, db: Database) -> _Ids:
        async with db.read() as conn:
            named = dict(
                (
                    await conn.execute(
                        select(monitors.c.name, monitors.c.id).where(
                            monitors.c.name.in_(["site-0", "job-0", "quiet-0"])
                        )
                    )
                ).all()
            )
            row = (
                await conn.execute(
                    select(probe_results.c.started_at, probe_results.c.id)
                    .where(probe_results.c.monitor_id == named["site-0"])
                    .order_by(probe_results.c.started_at.desc())
                    .offset(8000)
                    .limit(1)
                )
            ).one()
        return cls(named["site-0"], named["job-0"], named["quiet-0"], (row[0], row[1]))


async def bench_reads(db: Database) -> None:
    """Plans of the storage reads."""
    ids = await _Ids.find(db)
    async with db.read() as conn:
        flip = (await flips_page(conn, ids.site, 1000))[-1]
        ping = (await pings_page(conn, ids.job, 1000))[-1]
    cases: list[tuple[str, Callable[[AsyncConnection], Awaitable[Any]]]] = [
        ("results 8,000 deep", lambda c: results_page(c, ids.site, 21, before=ids.deep)),
        ("results newer than 8,000 deep", lambda c: results_page(c, ids.site, 21, after=ids.deep)),
        ("quiet monitor's flips", lambda c: flips_page(c, ids.quiet, 101)),
        (
            "busy monitor's flips 1,000 deep",
            lambda c: flips_page(c, ids.site, 1001, before=(flip.created_at, flip.id)),
        ),
        ("pings 1,000 deep", lambda c: pings_page(c, ids.job, 1001, before=ping.n)),
    ]
    for label, call in cases:
        await _explain_read(db, label, call)


async def _api_client(db: Database, data_dir: Path) -> httpx.AsyncClient:
    """A client of the API alone on ``db``, mounted as the server mounts it (no background
    engines), with a read-only key."""
    async with db.write() as conn:
        project = await default_project(conn)
        key = (await create_api_key(conn, "bench", ApiKeyScope.READ, datetime.now(UTC))).key
    settings = Settings.from_env({"TOCSIN_DATA_DIR": str(data_dir)})
    app = FastAPI()
    app.include_router(api_router())
    install_error_handlers(app)
    app.state.tocsin = ServerState(settings=settings, database=db, project=project)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="http://tocsin.bench",
        headers={"X-Api-Key": key},
    )


async def _second_page(client: httpx.AsyncClient, url: str) -> str:
    answer = await client.get(url)
    answer.raise_for_status()
    next_url: str = answer.json()["next"]
    return next_url


async def _time_request(
    db: Database, client: httpx.AsyncClient, label: str, url: str, repeat: int
) -> None:
    """Ask for ``url`` ``repeat`` times; print the times and the list statement's plan."""
    captured: Captured = []

    def grab(*args: Any) -> None:
        captured.append((args[2], args[3]))

    took: list[float] = []
    engine = db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", grab)
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            answer = await client.get(url)
            took.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    shown = await _plan(db, *_listing(captured))
    print(
        f"{label}: GET {url.split('?')[0]}: median {statistics.median(took):.2f} ms,"
        f" best {min(took):.2f} ms of {repeat}\n  " + "\n  ".join(shown)
    )


async def bench_api(db: Database, repeat: int) -> None:
    """Times and plans of the API's history lists."""
    ids = await _Ids.find(db)
    at, result_id = ids.deep
    deep = encode_cursor("results", f"{at.isoformat()}/{result_id}")
    api = "/api/v1/monitors"
    with TemporaryDirectory() as data_dir:
        async with await _api_client(db, Path(data_dir)) as client:
            flips_deep = await _second_page(client, f"{api}/site-0/flips?limit=1000")
            pings_deep = await _second_page(client, f"{api}/job-0/pings?limit=1000")
            cases = [
                ("results 8,000 deep", f"{api}/site-0/results?limit=20&cursor={deep}"),
                ("quiet monitor's flips", f"{api}/quiet-0/flips?limit=100"),
                ("busy monitor's flips 1,000 deep", flips_deep),
                ("pings 1,000 deep", pings_deep),
            ]
            for label, url in cases:
                await _time_request(db, client, label, url, repeat)


async def bench(url: str, count: int, api: bool, repeat: int) -> None:
    await _fill(url, count)
    db = Database(url)
    try:
        if api:
            await bench_api(db, repeat)
        else:
            await bench_reads(db)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=100)
    parser.add_argument("--api", action="store_true", help="measure the API's lists over HTTP")
    parser.add_argument("--repeat", type=int, default=20, help="requests per page (--api)")
    args = parser.parse_args()
    with scratch_postgres() as url:
        asyncio.run(bench(url, args.monitors, args.api, args.repeat))


if __name__ == "__main__":
    main()
