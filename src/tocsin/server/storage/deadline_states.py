"""The deadline watch's SQL: upcoming deadlines, and the monitors a deadline pass changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.hot_rows import DeadlineStateRow, DueMonitor
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import monitors


async def deadlines_until(
    conn: AsyncConnection, until: datetime
) -> list[tuple[int, datetime, bool]]:
    """``(monitor id, next deadline, in grace)`` of every monitor due by ``until`` (from
    the index); a monitor in grace goes down at its deadline."""
    rows = await conn.execute(
        select(monitors.c.id, monitors.c.next_deadline, monitors.c.state).where(
            monitors.c.next_deadline.is_not(None), monitors.c.next_deadline <= until
        )
    )
    grace = MonitorState.GRACE.value
    return [(monitor_id, deadline, state == grace) for monitor_id, deadline, state in rows.all()]


def monitors_to_decide(conn: Connection, ids: Sequence[int]) -> list[DueMonitor]:
    """The monitors with these ids as stored now, in id order; locked on PostgreSQL (in id
    order, like the ping writer's, so two nodes never deadlock). Only their status and
    schedule are decoded: most of a pass's monitors only enter their grace time."""
    return statements_for(conn).monitors_due(conn, ids)


def due_records(conn: Connection, due: Sequence[DueMonitor]) -> list[MonitorRecord]:
    """The whole records of monitors ``monitors_to_decide`` read (for those that alert),
    as read then."""
    return statements_for(conn).records(due)


def set_deadline_states(conn: Connection, rows: Sequence[DeadlineStateRow]) -> None:
    """Store the states and next deadlines a deadline pass decided."""
    statements_for(conn).set_deadline_states(conn, rows)
