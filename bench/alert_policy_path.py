"""What does the alert policy cost per flip, inside the flip's transaction?

Creates monitors with a webhook channel, then flips them down and back up in chunks of
100 (as the deadline watch and the ping writer do; ``--chunk 1000`` is the deadline watch's
large chunk when many deadlines pass together), each chunk in one write transaction,
and prints the CPU time ``outbox.insert_alerts`` took per flip (policy states, holds,
flapping, dependencies, incidents, alert states and the outbox rows), with the median
wall time per chunk. CPU time, not wall time, is the figure to compare on a busy machine.

    .venv/bin/python bench/alert_policy_path.py [--monitors 2000] [--chunk 100]
        [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from _common import add_webhook_channels, create_monitors, scratch_postgres
from sqlalchemy import select
from sqlalchemy.engine import Connection

from tocsin.server.alerts.outbox import insert_alerts
from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import insert_flips
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.migrate import upgrade
from tocsin.server.storage.tables import monitors


def flip_chunk(
    conn: Connection, ids: list[int], old: MonitorState, new: MonitorState, at: datetime
) -> tuple[float, float, int]:
    """Flip these monitors and queue their alerts: (CPU s, wall s, alerts) of the alerts."""
    records = statements_for(conn).monitors_by_id(conn, ids)
    changed = [(record, Flip(old, new, "bench")) for record in records]
    flip_ids = insert_flips(conn, [(record.id, flip, at) for record, flip in changed])
    flipped = [(r, flip, i, at) for (r, flip), i in zip(changed, flip_ids, strict=True)]
    cpu, wall = time.thread_time(), time.perf_counter()
    alerts = insert_alerts(conn, flipped, "http://tocsin.bench")
    return time.thread_time() - cpu, time.perf_counter() - wall, len(alerts)


async def measure(url: str, count: int, size: int) -> None:
    database = Database(url)
    try:
        await add_webhook_channels(url, {"bench": "http://127.0.0.1:9/"})
        await create_monitors(url, count, period=60, grace=60, channels=["bench"])
        async with database.read() as conn:
            query = select(monitors.c.id).order_by(monitors.c.id)
            ids = [row[0] for row in (await conn.execute(query)).all()]
        start = datetime.now(UTC)
        steps = (
            ("down", MonitorState.GRACE, MonitorState.DOWN, start),
            ("up", MonitorState.DOWN, MonitorState.UP, start + timedelta(minutes=5)),
        )
        for label, old, new, at in steps:
            cpu = 0.0
            walls: list[float] = []
            alerts = 0
            for first in range(0, len(ids), size):
                chunk = ids[first : first + size]
                spent, wall, sent = await database.run_write(flip_chunk, chunk, old, new, at)
                cpu += spent
                walls.append(wall)
                alerts += sent
            print(
                f"  {label:<4} {len(ids)} flips, {alerts} alerts: "
                f"CPU {cpu / len(ids) * 1e6:.0f} us per flip, "
                f"median wall {statistics.median(walls) * 1000:.1f} ms per chunk of {size}"
            )
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=100, help="flips per transaction")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/tocsin.db"
            upgrade(url)
            print("sqlite")
            asyncio.run(measure(url, args.monitors, args.chunk))
    if args.only in (None, "postgresql"):
        with scratch_postgres() as url:
            upgrade(url)
            print("postgresql")
            asyncio.run(measure(url, args.monitors, args.chunk))


if __name__ == "__main__":
    main()
