"""Incident and maintenance pages: server time at scale.

Creates ``--monitors`` paused heartbeat monitors, ``--incidents`` incidents spread over
them (all resolved but the newest ``--open``), a down and an up alert per incident to one
channel, three delivery attempts for the incident whose page is timed, and a few windows
and silences. Then runs the real app in-process (no network) and times the incidents list
(first page, the htmx poll, a page deep in the resolved ones, the open ones), one
incident's page and the maintenance page for a logged-in admin. Reports wall and CPU time
per request, as bench/dashboard.py does.

    .venv/bin/python bench/incident_pages.py --incidents 100000 --databases sqlite,postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import tempfile
import time
import uuid as uuid_module
from datetime import UTC, datetime, timedelta

import httpx
from _common import create_monitors, scratch_postgres, time_pages

from tocsin.server.dashboard.auth import SESSION_COOKIE
from tocsin.server.domain.maintenance import maintenance_window
from tocsin.server.domain.spec import channel_spec
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.deliveries import Attempt, AttemptOutcome, record_attempts
from tocsin.server.storage.holds import create_silence, put_window
from tocsin.server.storage.hot_rows import NotificationRow
from tocsin.server.storage.incident_reads import incident_notices
from tocsin.server.storage.incidents import open_incidents, resolve_incidents
from tocsin.server.storage.migrate import upgrade
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.storage.notifications import insert_notifications
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.sessions import create_session
from tocsin.server.storage.users import Role, create_user
from tocsin.server.web.api.paging import encode_cursor
from tocsin.server.web.app import create_app
from tocsin.settings import Settings

_BATCH = 10_000


def _notices(
    monitor_id: int, channel_id: int, incident_id: int, at: datetime
) -> list[NotificationRow]:
    return [
        NotificationRow(
            monitor_id, channel_id, None, kind, uuid_module.uuid4().hex, {}, "delivered", 1,
            at, at, at + timedelta(minutes=offset), incident_id,
        )
        for kind, offset in (("down", 0), ("up", 30))
    ]  # fmt: skip


async def _fill(url: str, monitors: int, incidents: int, still_open: int) -> tuple[str, int]:
    """The data set; returns a session id and the timed incident's id."""
    uuids = await create_monitors(url, monitors, prefix="job", period="1h", paused=True)
    db = Database(url)
    try:
        now = datetime.now(UTC)
        async with db.write() as conn:
            project = await default_project(conn)
            first = (await get_monitor(conn, project.id, uuids[0])).id
            channel = await create_channel(
                conn, project.id, channel_spec({"name": "ops", "kind": "webhook",
                                                "url": "http://127.0.0.1:9/hook"}), now,
            )  # fmt: skip
        start = now - timedelta(days=30)
        step = timedelta(days=30) / incidents
        ids: list[int] = []
        for cut in range(0, incidents, _BATCH):
            opened = [
                (first + i % monitors, start + step * i, f"grace 1h ran out ({i})")
                for i in range(cut, min(cut + _BATCH, incidents))
            ]
            made = await db.run_write(open_incidents, opened)
            resolved = [
                (incident_id, at + timedelta(minutes=30), "ping received")
                for n, (incident_id, (_, at, _)) in enumerate(zip(made, opened, strict=True))
                if len(ids) + n < incidents - still_open
            ]
            ids += made
            rows = [
                row
                for incident_id, (monitor_id, at, _) in zip(made, opened, strict=True)
                for row in _notices(monitor_id, channel.id, incident_id, at)
            ]
            await db.run_write(resolve_incidents, resolved)
            await db.run_write(insert_notifications, rows)
        timed = ids[len(ids) // 2]
        async with db.read() as conn:
            note = (await incident_notices(conn, timed))[0].id
        attempts = [
            Attempt(note, channel.id, n, now, 40, outcome, status, error, None)
            for n, outcome, status, error in (
                (1, AttemptOutcome.RETRY, 503, "HTTP 503: busy"),
                (2, AttemptOutcome.RETRY, None, "connection refused"),
                (3, AttemptOutcome.DELIVERED, 200, None),
            )
        ]
        await db.run_write(record_attempts, attempts, now)
        async with db.write() as conn:
            for i in range(5):
                window = maintenance_window(
                    {"name": f"w{i}", "monitors": [f"job-{i}"], "cron": "0 2 * * 0",
                     "duration": "1h"}
                )  # fmt: skip
                await put_window(conn, project.id, window, now)
                monitor = await get_monitor(conn, project.id, uuids[i])
                await create_silence(conn, project.id, monitor.id, now, now + timedelta(hours=2))
            user = await create_user(conn, "bench", "x", Role.ADMIN, now)
            session = await create_session(conn, user.id, "bench", now)
    finally:
        await db.dispose()
    _analyze(url)
    return session.session_id, timed


def _analyze(url: str) -> None:
    """What a server's autovacuum (PostgreSQL) or ``PRAGMA optimize`` would have done: on
    PostgreSQL resolving incidents leaves dead entries in ``ix_incidents_resolved_at``
    that make the open incidents' query scan them all until a vacuum."""
    if url.startswith("postgresql"):
        subprocess.run(["psql", url, "-qc", "VACUUM ANALYZE"], check=True)
    else:
        sqlite3.connect(url.removeprefix("sqlite:///")).execute("ANALYZE").connection.close()


async def _time(url: str, session_id: str, incident_id: int, rounds: int) -> None:
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
                deep = encode_cursor("incidents", 1000)
                pages = {
                    "incidents, first page": "/ui/incidents",
                    "incidents rows (htmx poll)": "/ui/incidents/rows",
                    "resolved, deep page": f"/ui/incidents?show=resolved&cursor={deep}",
                    "open only": "/ui/incidents?show=open",
                    "incident page": f"/ui/incidents/{incident_id}",
                    "maintenance page": "/ui/maintenance",
                }
                await time_pages(client, pages, rounds, 28)


async def bench(url: str, monitors: int, incidents: int, still_open: int, rounds: int) -> None:
    began = time.perf_counter()
    session_id, incident_id = await _fill(url, monitors, incidents, still_open)
    print(f"  {monitors:,} monitors, {incidents:,} incidents ({still_open} open), "
          f"{2 * incidents:,} alerts ({time.perf_counter() - began:.0f} s to load)")  # fmt: skip
    await _time(url, session_id, incident_id, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    timing = (args.monitors, args.incidents, args.open, args.rounds)
    for backend in args.databases.split(","):
        print(f"{backend}:")
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as scratch:
                url = f"sqlite:///{os.path.join(scratch, 'bench.db')}"
                upgrade(url)
                asyncio.run(bench(url, *timing))
        else:
            with scratch_postgres() as url:
                upgrade(url)
                asyncio.run(bench(url, *timing))


if __name__ == "__main__":
    main()
