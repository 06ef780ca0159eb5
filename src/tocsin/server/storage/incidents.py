"""Incidents: a row opened when a monitor goes down, resolved when it recovers.

The alert path opens and resolves them in the flip's transaction (synchronous); the API
lists them (async).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.tables import incidents, monitors, notifications


@dataclass(frozen=True)
class IncidentRecord:
    """An incident with its monitor and how many alerts it sent."""

    id: int
    monitor_uuid: str
    monitor_name: str
    opened_at: datetime
    resolved_at: datetime | None
    cause: str
    resolve_cause: str | None
    alerts: int

    def duration_seconds(self, now: datetime) -> float:
        """How long it lasted, or has lasted so far."""
        return ((self.resolved_at or now) - self.opened_at).total_seconds()


def open_incidents(conn: Connection, opened: Sequence[tuple[int, datetime, str]]) -> list[int]:
    """Open an incident per ``(monitor_id, at, cause)``; their ids, in the same order."""
    if not opened:
        return []
    statement = insert(incidents).returning(incidents.c.id, sort_by_parameter_order=True)
    rows = [{"monitor_id": m, "opened_at": at, "cause": cause} for m, at, cause in opened]
    return [int(row[0]) for row in conn.execute(statement, rows).all()]


def resolve_incidents(conn: Connection, resolved: Sequence[tuple[int, datetime, str]]) -> None:
    """Resolve each ``(incident_id, at, cause)`` that is still open."""
    for incident_id, at, cause in resolved:
        conn.execute(
            update(incidents)
            .where(incidents.c.id == incident_id, incidents.c.resolved_at.is_(None))
            .values(resolved_at=at, resolve_cause=cause)
        )


async def list_incidents(
    conn: AsyncConnection,
    project_id: int,
    *,
    open_only: bool = False,
    monitor_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[IncidentRecord]:
    """A project's incidents, newest first."""
    alerts = (
        select(func.count())
        .select_from(notifications)
        .where(notifications.c.incident_id == incidents.c.id)
        .scalar_subquery()
    )
    query = (
        select(
            incidents.c.id,
            monitors.c.uuid,
            monitors.c.name,
            incidents.c.opened_at,
            incidents.c.resolved_at,
            incidents.c.cause,
            incidents.c.resolve_cause,
            alerts,
        )
        .join(monitors, monitors.c.id == incidents.c.monitor_id)
        .where(monitors.c.project_id == project_id)
        .order_by(incidents.c.id.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(incidents.c.resolved_at.is_(None))
    if monitor_id is not None:
        query = query.where(incidents.c.monitor_id == monitor_id)
    if before_id is not None:
        query = query.where(incidents.c.id < before_id)
    return [IncidentRecord(*row) for row in (await conn.execute(query)).all()]
