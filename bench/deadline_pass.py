"""What does the deadline watch's flip transaction cost per monitor?

Creates heartbeat monitors with one webhook channel, stores them as pinged a moment ago,
then runs ``DeadlineWatch._flip`` over them in chunks of 1,000, each chunk in one
``Database.run_write`` transaction exactly as ``DeadlineWatch._fire_chunk`` does: first
at the end of their period (each enters ``grace``: a state write, no alert), then at the
end of their grace time (each goes ``down``: a flip, the alert policy and a
notification). Prints the writer thread's CPU time per monitor for each pass, with the
median wall time per chunk. CPU time, not wall time, is the figure to compare on a busy
machine. ``--log`` logs at INFO as the server does by default (to stderr: redirect it),
for what the per-flip log line costs inside the transaction.

    .venv/bin/python bench/deadline_pass.py [--monitors 5000] [--only sqlite|postgresql]
        [--log]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import add_webhook_channels, create_monitors, scratch_postgres
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from tocsin.logs import configure_logging
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.database import Database
from tocsin.server.storage.migrate import upgrade
from tocsin.server.storage.tables import monitors
from tocsin.server.watch.deadlines import DeadlineWatch

CHUNK = 1000
# Before the flip logs moved after the commit, ``_flip`` took a list to fill with the
# flips: the bench still times that version, for before/after figures.
LEGACY_FLIP = len(inspect.signature(DeadlineWatch._flip).parameters) == 5
PERIOD = 60.0
GRACE = 30.0


def timed_flip(
    conn: Connection, watch: DeadlineWatch, ids: list[int], now: datetime
) -> tuple[float, float, Any]:
    """``watch._flip`` of one chunk: (thread CPU s, wall s, its result)."""
    cpu, wall = time.thread_time(), time.perf_counter()
    extra: tuple[list[object], ...] = ([],) if LEGACY_FLIP else ()
    result = watch._flip(conn, ids, now, *extra)  # the path under test
    return time.thread_time() - cpu, time.perf_counter() - wall, result


async def measure(url: str, count: int) -> None:
    """Create ``count`` monitors on ``url`` and time both passes over them."""
    database = Database(url)
    try:
        await add_webhook_channels(url, {"bench": "http://127.0.0.1:9/"})
        await create_monitors(url, count, period=PERIOD, grace=GRACE, channels=["bench"])
        pinged = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        due = pinged + timedelta(seconds=PERIOD)
        async with database.write() as conn:
            await conn.execute(
                update(monitors).values(
                    state=MonitorState.UP.value, last_ping_at=pinged, next_deadline=due, n_pings=1
                )
            )
            query = select(monitors.c.id).order_by(monitors.c.id)
            ids = [row[0] for row in (await conn.execute(query)).all()]
        watch = DeadlineWatch(database, base_url="http://tocsin.bench")
        # The setup's objects are frozen, as a server freezes what it loaded at start:
        # the collections a pass triggers then walk only what the pass allocates.
        gc.collect()
        gc.freeze()
        passes = (("grace", due), ("down", due + timedelta(seconds=GRACE)))
        for label, now in passes:
            cpu = 0.0
            walls: list[float] = []
            flipped = alerts = 0
            for first in range(0, len(ids), CHUNK):
                chunk = ids[first : first + CHUNK]
                spent, wall, result = await database.run_write(timed_flip, watch, chunk, now)
                sent = result[1]
                cpu += spent
                walls.append(wall)
                alerts += len(sent)
                flipped += len(chunk)
            print(
                f"  {label:<5} {flipped} monitors, {alerts} alerts: "
                f"CPU {cpu / flipped * 1e6:.0f} us per monitor, "
                f"median wall {statistics.median(walls) * 1000:.0f} ms per chunk of {CHUNK}"
            )
        async with database.read() as conn:
            states = (await conn.execute(select(monitors.c.state).distinct())).scalars().all()
        assert states == [MonitorState.DOWN.value], states
    finally:
        await database.dispose()


def main() -> None:
    """Run the passes on SQLite and PostgreSQL (or the one ``--only`` names)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=5000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--log", action="store_true", help="log at INFO, as the server does")
    args = parser.parse_args()
    if args.log:
        configure_logging("INFO")
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/tocsin.db"
            upgrade(url)
            print("sqlite")
            asyncio.run(measure(url, args.monitors))
    if args.only in (None, "postgresql"):
        with scratch_postgres() as url:
            upgrade(url)
            print("postgresql")
            asyncio.run(measure(url, args.monitors))


if __name__ == "__main__":
    main()
