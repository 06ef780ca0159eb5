"""Dashboard pages: server time of the monitor list and the monitor page at scale.

Creates ``--monitors`` http monitors (paused, so the probe engine leaves them alone) with
a week of hourly aggregates each and the last ``--raw-minutes`` of raw results (written
with the probe engine's own bulk insert, via bench/probe_storage.py's helpers), plus a
full week of raw results for the monitor whose page is timed. Then runs the real app
in-process (no network) and times ``/`` (first page, a filtered page, a later page) and
``/ui/monitors/<uuid>`` for a logged-in admin. Target: p95 <= 100 ms.

Reports wall time and the process's CPU time per request: on a shared machine CPU time
is the steadier figure. ``--profile`` runs the first list page under cProfile and prints
where its time goes. ``--database-url`` fills the given database once and keeps it, so
later runs on it skip the load (minutes at 10,000 monitors).

    .venv/bin/python bench/dashboard.py --monitors 10000 --databases sqlite,postgresql
    .venv/bin/python bench/dashboard.py --database-url sqlite:////tmp/dash.db --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
from datetime import UTC, datetime, timedelta

import httpx
from _common import create_monitors, scratch_postgres, time_pages
from probe_storage import _rows
from sqlalchemy import text

from tocsin.server.dashboard.auth import SESSION_COOKIE
from tocsin.server.storage.database import Database
from tocsin.server.storage.migrate import upgrade
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.storage.probe_reads import floor_hour
from tocsin.server.storage.probe_rows import HourRecord
from tocsin.server.storage.probe_writes import insert_probe_results
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.result_rollup import upsert_hours
from tocsin.server.storage.sessions import create_session
from tocsin.server.storage.users import Role, create_user, find_user
from tocsin.server.web.app import create_app
from tocsin.settings import Settings

_BATCH = 20_000


async def _fill(url: str, monitors: int, raw_minutes: int) -> tuple[str, str]:
    """The data set; returns a session id and the timed monitor's uuid."""
    uuids = await create_monitors(
        url, monitors, prefix="site", kind="http", url="http://127.0.0.1:9/", paused=True
    )
    db = Database(url)
    try:
        async with db.write() as conn:
            project = await default_project(conn)
            ids = [(await get_monitor(conn, project.id, uuid)).id for uuid in uuids[:1]]
        first_id = ids[0]
        all_ids = list(range(first_id, first_id + monitors))  # inserted in one transaction
        now = datetime.now(UTC)
        top = floor_hour(now)
        hours = [
            (m, HourRecord("", top - timedelta(hours=h), 60, h % 7 == 0, 0, 80.0 + h % 13,
                           190.0 + h % 29, 300.0))
            for m in all_ids
            for h in range(1, 24 * 7 + 1)
        ]  # fmt: skip
        for cut in range(0, len(hours), _BATCH):
            await db.run_write(upsert_hours, hours[cut : cut + _BATCH])
        recent = _rows(all_ids, top, raw_minutes) + _rows(
            [first_id], now - timedelta(days=7), 60 * 24 * 7
        )
        for cut in range(0, len(recent), _BATCH):
            await db.run_write(insert_probe_results, recent[cut : cut + _BATCH])
        async with db.write() as conn:
            # A server's tables are analysed by autovacuum (PostgreSQL) or ``PRAGMA
            # optimize``; without statistics PostgreSQL sorts all 10,000 monitors per page.
            await conn.execute(text("ANALYZE"))
            user = await create_user(conn, "bench", "x", Role.ADMIN, now)
            session = await create_session(conn, user.id, "bench", now)
        return session.session_id, uuids[0]
    finally:
        await db.dispose()


async def _session(url: str) -> tuple[str, str] | None:
    """A new session for the bench user of an already filled database, and the timed
    monitor's uuid; ``None`` if the database is not filled yet."""
    db = Database(url)
    try:
        async with db.write() as conn:
            project = await default_project(conn)
            user = await find_user(conn, "bench")
            if user is None:
                return None
            session = await create_session(conn, user.id, "bench", datetime.now(UTC))
            monitor = await get_monitor(conn, project.id, "site-0")
        return session.session_id, monitor.uuid
    finally:
        await db.dispose()


async def _time(url: str, session_id: str, uuid: str, rounds: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env({"TOCSIN_DATA_DIR": data_dir, "TOCSIN_DATABASE_URL": url})
        app = create_app(settings)
        async with app.api.router.lifespan_context(app.api):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://127.0.0.1",
                cookies={SESSION_COOKIE: session_id},
            ) as client:
                pages = {
                    "list, first page": "/",
                    "list, page after site-5000": "/?after=site-5000",
                    "list, search 'site-99'": "/?q=site-99",
                    "list rows (htmx poll)": "/ui/monitors/rows",
                    "monitor page": f"/ui/monitors/{uuid}",
                    "monitor live part (htmx poll)": f"/ui/monitors/{uuid}/live",
                }
                await time_pages(client, pages, rounds, 32)
                if profile:
                    await _profile(client, "/", rounds)


async def _profile(client: httpx.AsyncClient, path: str, rounds: int) -> None:
    """Where ``rounds`` requests of ``path`` spend their time, top functions first."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        await client.get(path)
    profiler.disable()
    print(f"  profile of {rounds} x {path}:")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


async def bench(
    url: str, monitors: int, raw_minutes: int, rounds: int, profile: bool, keep: bool
) -> None:
    known = await _session(url) if keep else None
    if known is not None:
        session_id, uuid = known
    else:
        began = time.perf_counter()
        session_id, uuid = await _fill(url, monitors, raw_minutes)
        took = time.perf_counter() - began
        print(f"  {monitors:,} monitors, a week of hourly aggregates, "
              f"{raw_minutes} min of raw results ({took:.0f} s to load)")  # fmt: skip
    await _time(url, session_id, uuid, rounds, profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--raw-minutes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--profile", action="store_true", help="cProfile the first list page")
    parser.add_argument("--database-url", help="fill this database once and keep it")
    args = parser.parse_args()
    timing = (args.monitors, args.raw_minutes, args.rounds, args.profile)
    if args.database_url:
        upgrade(args.database_url)
        asyncio.run(bench(args.database_url, *timing, keep=True))
        return
    for backend in args.databases.split(","):
        print(f"{backend}:")
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as scratch:
                url = f"sqlite:///{os.path.join(scratch, 'bench.db')}"
                upgrade(url)
                asyncio.run(bench(url, *timing, keep=False))
        else:
            with scratch_postgres() as url:
                upgrade(url)
                asyncio.run(bench(url, *timing, keep=False))


if __name__ == "__main__":
    main()
