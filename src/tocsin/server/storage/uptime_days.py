"""What the 90-day uptime bars are drawn from: probe results per UTC day (from the hourly
aggregates) and heartbeat monitors' flips."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.probe_rows import Tally
from tocsin.server.storage.tables import flips, incidents, result_hours
from tocsin.server.storage.types import utc_from_db


def _day_of(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", result_hours.c.hour), "YYYY-MM-DD")
    # SQLite keeps naive UTC text, "YYYY-MM-DD HH:MM:SS...".
    return func.substr(result_hours.c.hour, 1, 10)


async def daily_tallies(
    conn: AsyncConnection,
    keys: Iterable[tuple[int, str]],
    since: datetime,
    until: datetime | None = None,
) -> dict[tuple[int, str], dict[date, Tally]]:
    """Checks and failures per UTC day from ``since`` (to ``until``) of each
    ``(monitor_id, component_key)`` (key ``""``: the monitor itself), from the rolled-up
    hours."""
    wanted = set(keys)
    found: dict[tuple[int, str], dict[date, Tally]] = defaultdict(dict)
    if not wanted:
        return found
    day = _day_of(conn.dialect.name).label("day")
    query = (
        select(
            result_hours.c.monitor_id,
            result_hours.c.component_key,
            day,
            func.sum(result_hours.c.count),
            func.sum(result_hours.c.failures),
            func.sum(result_hours.c.warnings),
        )
        .where(
            result_hours.c.monitor_id.in_({monitor_id for monitor_id, _ in wanted}),
            result_hours.c.component_key.in_({key for _, key in wanted}),
            result_hours.c.hour >= since,
        )
        .group_by(result_hours.c.monitor_id, result_hours.c.component_key, day)
    )
    if until is not None:
        query = query.where(result_hours.c.hour < until)
    for monitor_id, key, text, count, failures, warnings in await conn.execute(query):
        if (monitor_id, key) in wanted:
            tally = Tally(int(count or 0), int(failures or 0), int(warnings or 0))
            found[(monitor_id, key)][date.fromisoformat(text)] = tally
    return found


async def recent_tallies(
    conn: AsyncConnection, keys: Iterable[tuple[int, str]], since: datetime, hours_from: datetime
) -> tuple[dict[tuple[int, str], dict[date, Tally]], dict[tuple[int, str], Tally]]:
    """Like ``daily_tallies`` from ``since`` (no end), and in the same query each key's
    tally of the hours from ``hours_from`` on (the last 24 hours), which must not be
    before ``since``."""
    wanted = set(keys)
    days: dict[tuple[int, str], dict[date, Tally]] = defaultdict(dict)
    hours: dict[tuple[int, str], Tally] = defaultdict(Tally)
    if not wanted:
        return days, hours
    day = _day_of(conn.dialect.name).label("day")
    late = result_hours.c.hour >= hours_from
    query = (
        select(
            result_hours.c.monitor_id,
            result_hours.c.component_key,
            day,
            func.sum(result_hours.c.count),
            func.sum(result_hours.c.failures),
            func.sum(result_hours.c.warnings),
            func.sum(case((late, result_hours.c.count), else_=0)),
            func.sum(case((late, result_hours.c.failures), else_=0)),
            func.sum(case((late, result_hours.c.warnings), else_=0)),
        )
        .where(
            result_hours.c.monitor_id.in_({monitor_id for monitor_id, _ in wanted}),
            result_hours.c.component_key.in_({key for _, key in wanted}),
            result_hours.c.hour >= since,
        )
        .group_by(result_hours.c.monitor_id, result_hours.c.component_key, day)
    )
    for monitor_id, key, text, *sums in await conn.execute(query):
        if (monitor_id, key) in wanted:
            count, failures, warnings, late_count, late_failures, late_warnings = (
                int(n or 0) for n in sums
            )
            days[(monitor_id, key)][date.fromisoformat(text)] = Tally(count, failures, warnings)
            hours[(monitor_id, key)] += Tally(late_count, late_failures, late_warnings)
    return days, hours


async def flips_since(
    conn: AsyncConnection, monitor_ids: Iterable[int], since: datetime
) -> dict[int, list[tuple[datetime, str, str]]]:
    """Each monitor's flips ``(at, old_state, new_state)`` from ``since``, oldest first."""
    ids = list(monitor_ids)
    found: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
    if not ids:
        return found
    query = (
        select(flips.c.monitor_id, flips.c.created_at, flips.c.old_state, flips.c.new_state)
        .where(flips.c.monitor_id.in_(ids), flips.c.created_at >= since)
        .order_by(flips.c.monitor_id, flips.c.created_at, flips.c.id)
    )
    for monitor_id, at, old, new in await conn.execute(query):
        found[monitor_id].append((at, old, new))
    return found


async def open_incident_times(
    conn: AsyncConnection, monitor_ids: Iterable[int]
) -> dict[int, datetime]:
    """When the open incident of each of ``monitor_ids`` that has one was opened."""
    ids = list(monitor_ids)
    if not ids:
        return {}
    query = select(incidents.c.monitor_id, func.min(incidents.c.opened_at)).where(
        incidents.c.monitor_id.in_(ids), incidents.c.resolved_at.is_(None)
    )
    rows = await conn.execute(query.group_by(incidents.c.monitor_id))
    # SQLite's min() loses the column type: read the text back as UTC.
    found: dict[int, datetime] = {}
    for monitor_id, opened in rows.all():
        moment = utc_from_db(opened)
        if moment is not None:
            found[monitor_id] = moment
    return found
