"""Public status page: server time of ``/status/<slug>`` (target: p95 <= 50 ms).

Creates ``--monitors`` paused http monitors with a week of hourly aggregates each (the
crowd the page must not pay for), then a page of ``--items`` of them with 90 days of
hourly aggregates, plus ``--heartbeats`` heartbeat monitors with a flip a day for 90 days.
Runs the real app in-process (no network) and times the page, a 304 revalidation, a
``HEAD`` and the page's public JSON (the last two when the code serves them).
``--database-url`` fills the given database once and keeps it, so later runs on it skip
the load (a minute or two at 10,000 monitors); ``--profile`` prints where the page's time
goes (cProfile).

    .venv/bin/python bench/status_page.py --monitors 10000 --databases sqlite,postgresql
    .venv/bin/python bench/status_page.py --database-url sqlite:////tmp/status.db --profile
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
from _common import create_monitors, percentile, scratch_postgres

from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import insert_flips
from tocsin.server.storage.migrate import upgrade
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.storage.probe_reads import floor_hour
from tocsin.server.storage.probe_rows import HourRecord
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.result_rollup import upsert_hours
from tocsin.server.storage.status_pages import (
    add_status_item,
    create_status_page,
    find_status_page,
)
from tocsin.server.web.app import create_app
from tocsin.settings import Settings

_BATCH = 20_000


async def _ids(db: Database, uuids: list[str]) -> list[int]:
    async with db.read() as conn:
        project = await default_project(conn)
        return [(await get_monitor(conn, project.id, uuid)).id for uuid in uuids]


async def _hours(db: Database, ids: list[int], hours: int, top: datetime) -> None:
    rows = [
        (m, HourRecord("", top - timedelta(hours=h), 60, int(h % 50 == 0), 0, 80.0, 190.0, 300.0))
        for m in ids
        for h in range(1, hours + 1)
    ]
    for cut in range(0, len(rows), _BATCH):
        await db.run_write(upsert_hours, rows[cut : cut + _BATCH])


async def _fill(url: str, monitors: int, items: int, heartbeats: int) -> None:
    now = datetime.now(UTC)
    top = floor_hour(now)
    crowd = await create_monitors(
        url, monitors, prefix="site", kind="http", url="http://127.0.0.1:9/", paused=True
    )
    beats = await create_monitors(url, heartbeats, prefix="beat", period="1h", grace="5m")
    db = Database(url)
    try:
        crowd_ids = await _ids(db, crowd[:1])
        all_ids = list(range(crowd_ids[0], crowd_ids[0] + monitors))  # one transaction
        await _hours(db, all_ids[items:], 24 * 7, top)
        await _hours(db, all_ids[:items], 24 * 90, top)
        beat_ids = await _ids(db, beats)
        flips = [
            (m, Flip(old, new, "bench"), now - timedelta(days=d, hours=hour))
            for m in beat_ids
            for d in range(90)
            for old, new, hour in [
                (MonitorState.UP, MonitorState.DOWN, 2),
                (MonitorState.DOWN, MonitorState.UP, 1),
            ]
        ]
        await db.run_write(insert_flips, sorted(flips, key=lambda f: f[2]))
        async with db.write() as conn:
            project = await default_project(conn)
            page = await create_status_page(conn, project.id, "bench", "Bench status", now)
            for n, monitor_id in enumerate(all_ids[:items] + beat_ids):
                await add_status_item(conn, page.id, monitor_id, "", f"Service {n}", now)
    finally:
        await db.dispose()


def _forget(app: object) -> None:
    """Drop the app's cache of rendered pages (if this code has one), so the next request
    computes its page: past days stay cached, as on a server that is up for a while."""
    cache = getattr(getattr(app, "state", None), "status_page_cache", None)
    if cache is not None:
        cache.clear()


async def _timed(
    client: httpx.AsyncClient,
    app: object,
    method: str,
    path: str,
    rounds: int,
    *,
    conditional: bool = False,
    computed: bool = False,
) -> tuple[list[float], list[int]]:
    times, answers = [], []
    for _ in range(rounds):
        headers = {}
        if conditional:  # the newest ETag (today's heartbeat uptime moves)
            headers = {"If-None-Match": (await client.get(path)).headers["etag"]}
        if computed:
            _forget(app)
        began = time.perf_counter()
        answer = await client.request(method, path, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        answers.append(answer.status_code)
    return times, answers


async def _time(url: str, rounds: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env({"TOCSIN_DATA_DIR": data_dir, "TOCSIN_DATABASE_URL": url})
        app = create_app(settings)
        async with app.api.router.lifespan_context(app.api):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                first = await client.get("/status/bench")  # warm up: templates compile
                assert first.status_code == 200, first.status_code
                json_ok = (await client.get("/status/bench.json")).status_code == 200
                head_ok = (await client.head("/status/bench")).status_code == 200
                runs = [
                    ("page, computed", "GET", "/status/bench", False, True),
                    ("page, repeat views", "GET", "/status/bench", False, False),
                    ("revalidation (304)", "GET", "/status/bench", True, False),
                ]
                if head_ok:
                    runs.append(("HEAD, computed", "HEAD", "/status/bench", False, True))
                if json_ok:
                    runs.append(("JSON, computed", "GET", "/status/bench.json", False, True))
                    runs.append(("JSON, repeat views", "GET", "/status/bench.json", False, False))
                for name, method, path, conditional, computed in runs:
                    times, answers = await _timed(
                        client, app, method, path, rounds, conditional=conditional,
                        computed=computed,
                    )  # fmt: skip
                    counts = ", ".join(f"{answers.count(s)} x {s}" for s in sorted(set(answers)))
                    print(f"  {name:19} p50 {percentile(times, 0.5):6.1f} ms"
                          f"  p95 {percentile(times, 0.95):6.1f} ms  ({counts})")  # fmt: skip
                if profile:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    await _timed(client, app, "GET", "/status/bench", rounds, computed=True)
                    profiler.disable()
                    print(f"  profile of {rounds} computed pages:")
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


async def _filled(url: str) -> bool:
    """Whether ``url`` holds the bench's page already (``--database-url``)."""
    db = Database(url)
    try:
        async with db.read() as conn:
            return await find_status_page(conn, "bench") is not None
    finally:
        await db.dispose()


async def bench(
    url: str, monitors: int, items: int, heartbeats: int, rounds: int, *, profile: bool, keep: bool
) -> None:
    if not (keep and await _filled(url)):
        began = time.perf_counter()
        await _fill(url, monitors, items, heartbeats)
        print(f"  {monitors:,} monitors; page of {items} probed (90 days of hours) and "
              f"{heartbeats} heartbeat items (2 flips a day); "
              f"{time.perf_counter() - began:.0f} s to load")  # fmt: skip
    await _time(url, rounds, profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--heartbeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--profile", action="store_true", help="cProfile the computed page")
    parser.add_argument("--database-url", help="fill this database once and keep it")
    args = parser.parse_args()
    sizes = (args.monitors, args.items, args.heartbeats, args.rounds)
    if args.database_url:
        upgrade(args.database_url)
        asyncio.run(bench(args.database_url, *sizes, profile=args.profile, keep=True))
        return
    for backend in args.databases.split(","):
        print(f"{backend}:")
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as scratch:
                url = f"sqlite:///{os.path.join(scratch, 'bench.db')}"
                upgrade(url)
                asyncio.run(bench(url, *sizes, profile=args.profile, keep=False))
        else:
            with scratch_postgres() as url:
                upgrade(url)
                asyncio.run(bench(url, *sizes, profile=args.profile, keep=False))


if __name__ == "__main__":
    main()
