"""Incidents: a row opened when a monitor goes down, resolved when it recovers.

The alert path opens and resolves them in the flip's transaction (synchronous, through the
driver-level statements of ``policy_sql``), and lists in a parent's incident the monitors
that went down while it held their alerts (``depends_on``); the API lists them (async).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.policy_sql import ChildRecord, IncidentOpen, IncidentResolve, policy_sql
from tocsin.server.storage.tables import incidents, monitors, notifications


@dataclass(frozen=True)
class IncidentRecord:
    """An incident with its monitor, how many alerts it sent and the children (by name)
    that went down under it."""

    id: int
    monitor_uuid: str
    monitor_name: str
    opened_at: datetime
    resolved_at: datetime | None
    cause: str
    resolve_cause: str | None
    alerts: int
    children: tuple[str, ...] = ()

    def duration_seconds(self, now: datetime) -> float:
        """How long it lasted, or has lasted so far."""
        return ((self.resolved_at or now) - self.opened_at).total_seconds()


def open_incidents(conn: Connection, opened: Sequence[tuple[int, datetime, str]]) -> list[int]:
    """Open an incident per ``(monitor_id, at, cause)``; their ids, in the same order."""
    return policy_sql(conn).open_incidents(conn, [IncidentOpen(*row) for row in opened])


def resolve_incidents(conn: Connection, resolved: Sequence[tuple[int, datetime, str]]) -> None:
    """Resolve each ``(incident_id, at, cause)`` that is still open (one statement)."""
    policy_sql(conn).resolve_incidents(conn, [IncidentResolve(*row) for row in resolved])


def add_children(conn: Connection, children: Sequence[tuple[int, int, datetime]]) -> None:
    """List each ``(incident_id, monitor_id, at)``: a monitor that went down at ``at`` while
    the parent whose incident it is held its alerts (listed once per incident)."""
    policy_sql(conn).add_children(conn, [ChildRecord(*row) for row in children])


def incident_children(conn: Connection, incident_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """The names of the children listed in each of these incidents, in the order they went
    down (incidents without any are absent)."""
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    found: dict[int, list[str]] = {}
    for incident_id, name in policy_sql(conn).children(conn, ids):
        found.setdefault(incident_id, []).append(name)
    return {incident_id: tuple(names) for incident_id, names in found.items()}


async def list_incidents(
    conn: AsyncConnection,
    project_id: int,
    *,
    open_only: bool = False,
    resolved_only: bool = False,
    monitor_id: int | None = None,
    before_id: int | None = None,
    incident_id: int | None = None,
    limit: int = 50,
) -> list[IncidentRecord]:
    """A project's incidents, newest first (``incident_id``: that one only)."""
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
    if resolved_only:
        query = query.where(incidents.c.resolved_at.is_not(None))
    if incident_id is not None:
        query = query.where(incidents.c.id == incident_id)
    if monitor_id is not None:
        query = query.where(incidents.c.monitor_id == monitor_id)
    if before_id is not None:
        query = query.where(incidents.c.id < before_id)
    found = [IncidentRecord(*row) for row in (await conn.execute(query)).all()]
    if not found:
        return found
    children = await conn.run_sync(incident_children, [record.id for record in found])
    return [replace(record, children=children.get(record.id, ())) for record in found]
