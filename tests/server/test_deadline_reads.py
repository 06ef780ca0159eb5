"""The deadline pass's own reads and SQLite's id-returning inserts, on both databases.

A deadline pass decodes only a monitor's status and schedule to decide, and its whole
record only when it alerts; both must be what SQLAlchemy reads for the same row.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.deadline_states import due_records, monitors_to_decide
from tocsin.server.storage.hot_rows import DueMonitor, FlipRow
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.monitors import create_monitor, get_monitor
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import flips, monitors

# Microseconds matter: the decoded times must be exactly the stored ones.
PINGED = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)


async def test_due_monitors_decode_as_sqlalchemy_reads_them(db: Database) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        await create_channel(
            conn,
            project.id,
            channel_spec({"name": "ops", "kind": "webhook", "url": "http://x/h"}),
            PINGED,
        )
        plain = await create_monitor(
            conn, project.id, monitor_spec({"name": "plain", "period": "1m"}), PINGED
        )
        spec = monitor_spec(
            {
                "name": "rich",
                "tags": ["db", "d\u00e9j\u00e0"],
                "cron": "*/5 * * * *",
                "timezone": "Europe/Berlin",
                "grace": "90s",
                "channels": ["ops"],
                "remind": {"every": "1h", "max": 2},
            }
        )
        rich = await create_monitor(conn, project.id, spec, PINGED)
        await conn.execute(
            update(monitors)
            .where(monitors.c.id == rich.id)
            .values(
                state="started",
                last_ping_at=PINGED,
                last_start_at=PINGED + timedelta(seconds=1),
                last_start_rid="run-1",
                next_deadline=PINGED + timedelta(minutes=5, microseconds=7),
            )
        )

    def read(sync: Connection) -> tuple[list[DueMonitor], list[MonitorRecord]]:
        due = monitors_to_decide(sync, [rich.id, 10**9, plain.id])
        return due, due_records(sync, due)

    due, records = await db.run_write(read)
    async with db.read() as conn:
        stored = [await get_monitor(conn, project.id, m.uuid) for m in (plain, rich)]
    assert [m.id for m in due] == [plain.id, rich.id]
    assert [(m.uuid, m.status, m.schedule) for m in due] == [
        (s.uuid, s.status, s.schedule) for s in stored
    ]
    assert stored[1].alert_policy is not None and stored[1].tags == ("db", "d\u00e9j\u00e0")
    # get_monitor also lists the channels, which the outbox reads on its own.
    assert records == [dataclasses.replace(s, channels=()) for s in stored]


async def test_inserted_flips_get_their_ids_after_the_newest_were_deleted(db: Database) -> None:
    """SQLite hands a deleted top id out again: the ids returned are still the new rows'."""
    async with db.write() as conn:
        project = await default_project(conn)
        made = await create_monitor(conn, project.id, monitor_spec({"name": "m"}), PINGED)

    def insert(sync: Connection, causes: list[str]) -> list[int]:
        rows = [FlipRow(made.id, PINGED, "up", "down", cause) for cause in causes]
        return statements_for(sync).insert_flips(sync, rows)

    first = await db.run_write(insert, ["a", "b", "c"])
    async with db.write() as conn:
        await conn.execute(delete(flips).where(flips.c.id.in_(first[1:])))
    second = await db.run_write(insert, ["d", "e"])
    async with db.read() as conn:
        stored = dict((await conn.execute(select(flips.c.id, flips.c.cause))).all())
    assert [stored[i] for i in first[:1] + second] == ["a", "d", "e"]
    assert second == sorted(second) and min(second) > first[0]
