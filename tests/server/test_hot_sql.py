"""The ping writer's driver-level statements store what SQLAlchemy stores, on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.hot_rows import (
    DeadlineStateRow,
    FlipRow,
    NotificationRow,
    PingedMonitorRow,
    PingRow,
)
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.monitors import create_monitor, get_monitor
from tocsin.server.storage.pings import list_pings
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import channels, flips, monitors, notifications, pings

# Microseconds matter: SQLite compares timestamps as text, so the text must match exactly.
PINGED = datetime(2026, 11, 24, 12, 0, 0, 0, tzinfo=UTC)
DEADLINE = PINGED + timedelta(hours=1, microseconds=1)


async def test_a_written_batch_reads_back_through_sqlalchemy(db: Database) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        spec = monitor_spec({"name": "job", "tags": ["a", "b"], "period": "1h"})
        created = await create_monitor(conn, project.id, spec, PINGED)
        other = await create_monitor(conn, project.id, monitor_spec({"name": "other"}), PINGED)

    def write(sync: Connection) -> None:
        statements = statements_for(sync)
        found = statements.monitors_by_uuid(sync, [created.uuid, "no-such-uuid"])
        assert [(m.id, m.name, m.tags) for m in found] == [(created.id, "job", ("a", "b"))]
        assert found[0].created_at == PINGED and found[0].schedule == created.schedule
        ping = PingRow(
            monitor_id=created.id,
            n=1,
            created_at=PINGED,
            kind="success",
            exit_status=0,
            rid=None,
            duration_seconds=1.5,
            method="POST",
            scheme="http",
            remote_addr="127.0.0.1",
            user_agent="curl/8",
            body="h\u00e9llo",
            body_size=6,
        )
        update = PingedMonitorRow(
            state="up",
            last_ping_at=PINGED,
            last_start_at=None,
            last_start_rid=None,
            next_deadline=DEADLINE,
            last_duration_seconds=1.5,
            n_pings=1,
            id=created.id,
        )
        statements.write_ping_batch(sync, [ping], [update])

    await db.run_write(write)
    async with db.read() as conn:
        stored = await get_monitor(conn, project.id, created.uuid)
        (stored_ping,) = await list_pings(conn, created.id)
        untouched = await get_monitor(conn, project.id, other.uuid)
        # A query that binds the deadline through SQLAlchemy finds the row: same encoding.
        by_deadline = await conn.execute(
            select(monitors.c.id).where(monitors.c.next_deadline == DEADLINE)
        )
        by_time = await conn.execute(select(pings.c.n).where(pings.c.created_at == PINGED))
        assert by_deadline.scalars().all() == [created.id]
        assert by_time.scalars().all() == [1]
    assert stored.status.state.value == "up"
    assert stored.status.last_ping_at == PINGED
    assert stored.status.next_deadline == DEADLINE
    assert (stored.n_pings, stored.last_duration_seconds) == (1, 1.5)
    assert (stored_ping.body, stored_ping.user_agent, stored_ping.remote_addr) == (
        "h\u00e9llo",
        "curl/8",
        "127.0.0.1",
    )
    assert (stored_ping.created_at, stored_ping.exit_status, stored_ping.body_size) == (
        PINGED,
        0,
        6,
    )
    assert untouched.status == other.status and untouched.n_pings == 0


async def test_inserted_flips_and_notifications_get_their_ids_in_row_order(db: Database) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        made = [
            await create_monitor(conn, project.id, monitor_spec({"name": f"m{i}"}), PINGED)
            for i in range(3)
        ]
        await create_channel(
            conn,
            project.id,
            channel_spec({"name": "ops", "kind": "webhook", "url": "http://x/h"}),
            PINGED,
        )
        channel_id = (await conn.execute(select(channels.c.id))).scalar_one()
    # Out of id order, and two flips of one monitor, as a ping batch can produce.
    order = [made[2], made[0], made[2], made[1]]
    payloads = [
        {"n": i, "text": "d\u00e9j\u00e0 \u2603", "deep": {"a": [1, None]}} for i in range(4)
    ]

    def write(sync: Connection) -> tuple[list[int], list[int]]:
        statements = statements_for(sync)
        found = statements.monitors_by_id(sync, [made[1].id, made[0].id, 10**9])
        assert [m.uuid for m in found] == [made[0].uuid, made[1].uuid]
        flip_ids = statements.insert_flips(
            sync, [FlipRow(m.id, PINGED, "up", "down", f"cause {i}") for i, m in enumerate(order)]
        )
        rows = [
            NotificationRow(
                monitor_id=m.id,
                channel_id=channel_id,
                flip_id=flip_ids[i],
                kind="down",
                idempotency_key=f"key-{i}",
                payload=payloads[i],
                status="pending",
                attempts=1,
                next_attempt_at=PINGED,
                claimed_until=DEADLINE,
                created_at=PINGED,
            )
            for i, m in enumerate(order)
        ]
        states = [
            DeadlineStateRow("down", None, made[2].id),
            DeadlineStateRow("grace", DEADLINE, made[0].id),
        ]
        statements.set_deadline_states(sync, states)
        new = statements.insert_notifications(sync, rows)
        # Rows written together are not each other's older ones: none was pending before.
        assert [n.older for n in new] == [()] * 4
        return flip_ids, [n.id for n in new]

    flip_ids, notification_ids = await db.run_write(write)
    async with db.read() as conn:
        stored_flips = {
            row.id: (row.monitor_id, row.cause)
            for row in await conn.execute(select(flips.c.id, flips.c.monitor_id, flips.c.cause))
        }
        stored = {
            row.id: row
            for row in await conn.execute(
                select(notifications).where(notifications.c.next_attempt_at == PINGED)
            )
        }
        states = [(await get_monitor(conn, project.id, m.uuid)).status for m in made]
    expected_flips = [(m.id, f"cause {n}") for n, m in enumerate(order)]
    assert [stored_flips[i] for i in flip_ids] == expected_flips
    assert [(stored[i].flip_id, stored[i].idempotency_key) for i in notification_ids] == [
        (flip_ids[n], f"key-{n}") for n in range(4)
    ]
    assert [stored[i].payload for i in notification_ids] == payloads
    assert stored[notification_ids[0]].claimed_until == DEADLINE
    assert [(s.state.value, s.next_deadline) for s in states] == [
        ("grace", DEADLINE),
        ("new", None),
        ("down", None),
    ]


async def test_a_new_notification_names_the_older_ones_of_its_pair_still_pending(
    db: Database,
) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        made = [
            await create_monitor(conn, project.id, monitor_spec({"name": f"m{i}"}), PINGED)
            for i in range(2)
        ]
        for name in ("ops", "dev"):
            spec = channel_spec({"name": name, "kind": "webhook", "url": "http://x/h"})
            await create_channel(conn, project.id, spec, PINGED)
        ops, dev = (await conn.execute(select(channels.c.id).order_by(channels.c.id))).scalars()

    def row(monitor_id: int, channel_id: int, key: str) -> NotificationRow:
        return NotificationRow(
            monitor_id=monitor_id,
            channel_id=channel_id,
            flip_id=None,
            kind="down",
            idempotency_key=key,
            payload={},
            status="pending",
            attempts=1,
            next_attempt_at=PINGED,
            claimed_until=DEADLINE,
            created_at=PINGED,
        )

    def insert(sync: Connection, rows: list[NotificationRow]) -> list[tuple[int, tuple[int, ...]]]:
        return [tuple(new) for new in statements_for(sync).insert_notifications(sync, rows)]

    m0, m1 = made[0].id, made[1].id
    first = await db.run_write(insert, [row(m0, ops, "a"), row(m0, ops, "b"), row(m1, ops, "c")])
    delivered = first[0][0]
    async with db.write() as conn:
        await conn.execute(
            notifications.update().where(notifications.c.id == delivered).values(status="delivered")
        )
    second = await db.run_write(
        insert, [row(m0, ops, "d"), row(m0, dev, "e"), row(m1, dev, "f"), row(m1, ops, "g")]
    )
    # Only the same channel and monitor count, and only rows still pending.
    assert [older for _, older in second] == [(first[1][0],), (), (), (first[2][0],)]


async def test_the_hot_reads_build_the_records_sqlalchemy_reads(db: Database) -> None:
    """The ping writer and the deadline watch decode rows by position: every field of
    their records matches the ordinary read, for a heartbeat and a probed monitor."""
    async with db.write() as conn:
        project = await default_project(conn)
        job = monitor_spec(
            {"name": "job", "tags": ["a", "b"], "period": "1h", "grace": "5m", "remind": "2h"}
        )
        api = monitor_spec(
            {"name": "api", "kind": "http", "url": "https://x.test/", "interval": "30s"}
        )
        created = [await create_monitor(conn, project.id, spec, PINGED) for spec in (job, api)]
        await conn.execute(
            monitors.update()
            .where(monitors.c.id == created[0].id)
            .values(
                state="grace",
                last_ping_at=PINGED,
                last_start_at=PINGED + timedelta(seconds=1),
                last_start_rid="run-1",
                next_deadline=DEADLINE,
                n_pings=3,
            )
        )
    async with db.read() as conn:
        stored = [await get_monitor(conn, project.id, m.uuid) for m in created]

    def read(sync: Connection) -> None:
        statements = statements_for(sync)
        expected = [replace(record, channels=()) for record in stored]
        assert statements.monitors_by_uuid(sync, [m.uuid for m in created]) == expected
        assert statements.monitors_by_id(sync, [m.id for m in created]) == expected
        due = statements.monitors_due(sync, [m.id for m in created])
        assert statements.records(due) == expected

    assert stored[0].tags == ("a", "b") and stored[0].alert_policy
    assert stored[0].status.last_start_rid == "run-1" and stored[1].probe
    await db.run_write(read)
