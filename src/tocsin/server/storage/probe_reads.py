"""Reading what probes recorded: results, component states, uptime and hourly series.

Uptime over a window adds the hourly aggregates (``result_hours``) of the window's hours
to the raw results not rolled up yet (the current hour, and any hour the rollup has not
reached), so a fresh failure shows at once. Windows start at the top of an hour: ``24h``
is the hours from ``floor_hour(now - 24 h)`` to now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.health.model import Status
from tocsin.server.storage.history_pages import TimeKey, results_page
from tocsin.server.storage.probe_rows import (
    ComponentStateRecord,
    HourRecord,
    ProbeView,
    ResultRecord,
    Tally,
    status_of,
)
from tocsin.server.storage.result_codec import decode_items, decode_result, fetch_labels
from tocsin.server.storage.tables import component_states, monitors, probe_results, result_hours
from tocsin.server.storage.types import utc_from_db

HOUR = timedelta(hours=1)
MONITOR = ""  # the component key of the monitor's own aggregates
_CHUNK = 500  # ids per IN (...) list


class Window(StrEnum):
    """The spans uptime and series are asked for."""

    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def span(self) -> timedelta:
        """How far back the window reaches."""
        return {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}[
            self.value
        ]

    def since(self, now: datetime) -> datetime:
        """The top of the hour the window starts in."""
        return floor_hour(now - self.span)


def floor_hour(moment: datetime) -> datetime:
    """The start of the hour ``moment`` falls in."""
    return moment.replace(minute=0, second=0, microsecond=0)


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    pending = list(ids)
    for start in range(0, len(pending), _CHUNK):
        yield pending[start : start + _CHUNK]


async def list_results(
    conn: AsyncConnection,
    monitor_id: int,
    limit: int = 100,
    before: TimeKey | None = None,
) -> list[ResultRecord]:
    """The newest ``limit`` results of a monitor started before ``before`` (a result's
    ``(started_at, id)``), newest first: ``history_pages.results_page``, one range of the
    ``(monitor_id, started_at)`` index however deep the page."""
    return await results_page(conn, monitor_id, limit, before=before)


async def latest_results(
    conn: AsyncConnection, monitor_ids: Iterable[int]
) -> dict[int, ResultRecord]:
    """The newest result of each monitor that has one."""
    found: dict[int, ResultRecord] = {}
    for chunk in _chunks(monitor_ids):
        # One index seek per monitor (monitor_id, started_at), whatever the history's size.
        inner = probe_results.alias("newest")
        newest = (
            select(inner.c.id)
            .where(inner.c.monitor_id == monitors.c.id)
            .order_by(inner.c.started_at.desc(), inner.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        ids = select(newest).where(monitors.c.id.in_(chunk))
        query = select(probe_results).where(probe_results.c.id.in_(ids))
        rows = (await conn.execute(query)).mappings().all()
        labels = await fetch_labels(conn, rows)
        for row in rows:
            found[row["monitor_id"]] = decode_result(row, labels)
    return found


async def list_component_states(
    conn: AsyncConnection, monitor_ids: Iterable[int]
) -> dict[int, list[ComponentStateRecord]]:
    """The current component states of each ``app`` monitor, by key."""
    found: dict[int, list[ComponentStateRecord]] = defaultdict(list)
    for chunk in _chunks(monitor_ids):
        query = (
            select(component_states)
            .where(component_states.c.monitor_id.in_(chunk))
            .order_by(component_states.c.monitor_id, component_states.c.key)
        )
        for row in (await conn.execute(query)).mappings():
            found[row["monitor_id"]].append(ComponentStateRecord.from_row(row))
    return found


async def probe_views(conn: AsyncConnection, monitor_ids: Iterable[int]) -> dict[int, ProbeView]:
    """The newest result and the component states of each of ``monitor_ids`` (probed
    monitors)."""
    ids = list(monitor_ids)
    latest = await latest_results(conn, ids)
    components = await list_component_states(conn, ids)
    return {
        monitor_id: ProbeView(latest.get(monitor_id), tuple(components.get(monitor_id, ())))
        for monitor_id in ids
    }


async def _rolled_until(conn: AsyncConnection, monitor_id: int) -> datetime | None:
    """The end of the newest hour rolled up for the monitor (``None`` before the first)."""
    query = (
        select(result_hours.c.hour)
        .where(result_hours.c.monitor_id == monitor_id, result_hours.c.component_key == MONITOR)
        .order_by(result_hours.c.hour.desc())
        .limit(1)
    )
    newest = utc_from_db((await conn.execute(query)).scalar())
    return None if newest is None else newest + HOUR


async def uptime(
    conn: AsyncConnection, monitor_id: int, now: datetime
) -> dict[Window, dict[str, Tally]]:
    """Checks and failures of the monitor (key ``""``) and of each component, per window."""
    tallies: dict[Window, dict[str, Tally]] = {window: defaultdict(Tally) for window in Window}
    since = {window: window.since(now) for window in Window}
    sums = []
    for window in Window:
        recent = result_hours.c.hour >= since[window]
        for column in (result_hours.c.count, result_hours.c.failures, result_hours.c.warnings):
            sums.append(func.sum(case((recent, column), else_=0)))
    query = (
        select(result_hours.c.component_key, *sums)
        .where(result_hours.c.monitor_id == monitor_id, result_hours.c.hour >= since[Window.MONTH])
        .group_by(result_hours.c.component_key)
    )
    for key, *numbers in await conn.execute(query):
        for index, window in enumerate(Window):
            count, failures, warnings = (int(n or 0) for n in numbers[index * 3 : index * 3 + 3])
            tallies[window][key] += Tally(count, failures, warnings)
    raw_since = max(
        since[Window.MONTH], await _rolled_until(conn, monitor_id) or since[Window.MONTH]
    )
    for started_at, verdict, components in await _raw_tail(conn, monitor_id, raw_since):
        readings = [(MONITOR, verdict)]
        readings += [(str(c["key"]), str(c["status"])) for c in components]
        for window in Window:
            if started_at >= since[window]:
                for key, status in readings:
                    tallies[window][key] += _tally_of(status)
    return {window: dict(by_key) for window, by_key in tallies.items()}


async def _raw_tail(
    conn: AsyncConnection, monitor_id: int, since: datetime
) -> Sequence[tuple[datetime, str, list[dict[str, Any]]]]:
    query = select(
        probe_results.c.started_at,
        probe_results.c.verdict,
        probe_results.c.labels,
        probe_results.c.outcomes,
        probe_results.c.components,
    ).where(probe_results.c.monitor_id == monitor_id, probe_results.c.started_at >= since)
    rows = (await conn.execute(query)).mappings().all()
    labels = await fetch_labels(conn, rows)
    return [(row["started_at"], row["verdict"], decode_items(row, labels)[1]) for row in rows]


def _tally_of(status: str) -> Tally:
    verdict = status_of(status)
    return Tally(1, int(verdict is Status.FAIL), int(verdict is Status.WARN))


async def hour_series(
    conn: AsyncConnection, monitor_id: int, since: datetime, component_key: str = MONITOR
) -> list[HourRecord]:
    """The hourly aggregates of the monitor (or one component) from ``since``, oldest first."""
    query = (
        select(result_hours)
        .where(
            result_hours.c.monitor_id == monitor_id,
            result_hours.c.component_key == component_key,
            result_hours.c.hour >= since,
        )
        .order_by(result_hours.c.hour)
    )
    rows = (await conn.execute(query)).mappings().all()
    return [
        HourRecord(**{name: row[name] for name in HourRecord.__dataclass_fields__}) for row in rows
    ]


async def uptimes_by_monitor(
    conn: AsyncConnection, monitor_ids: Sequence[int], now: datetime
) -> dict[int, dict[Window, float | None]]:
    """Each monitor's uptime per window from the hourly aggregates, summed in one query."""
    since = {window: window.since(now) for window in Window}
    sums = []
    for window in Window:
        recent = result_hours.c.hour >= since[window]
        sums.append(func.sum(case((recent, result_hours.c.count), else_=0)))
        sums.append(func.sum(case((recent, result_hours.c.failures), else_=0)))
    query = (
        select(result_hours.c.monitor_id, *sums)
        .where(
            result_hours.c.monitor_id.in_(list(monitor_ids)),
            result_hours.c.component_key == MONITOR,
            result_hours.c.hour >= since[Window.MONTH],
        )
        .group_by(result_hours.c.monitor_id)
    )
    return {
        monitor_id: {
            window: Tally(int(numbers[i * 2] or 0), int(numbers[i * 2 + 1] or 0)).uptime_percent
            for i, window in enumerate(Window)
        }
        for monitor_id, *numbers in await conn.execute(query)
    }


async def hourly_p50s(
    conn: AsyncConnection, monitor_ids: Sequence[int], since: datetime
) -> dict[int, list[float]]:
    """Each monitor's hourly p50 latency since ``since``, oldest first (values only)."""
    # Only the values: the sparkline spaces them evenly, and decoding each row's hour
    # cost more than the query itself.
    query = (
        select(result_hours.c.monitor_id, result_hours.c.latency_p50)
        .where(
            result_hours.c.monitor_id.in_(list(monitor_ids)),
            result_hours.c.component_key == MONITOR,
            result_hours.c.hour >= since,
            result_hours.c.latency_p50.is_not(None),
        )
        .order_by(result_hours.c.monitor_id, result_hours.c.hour)
    )
    latency: dict[int, list[float]] = defaultdict(list)
    for monitor_id, p50 in await conn.execute(query):
        latency[monitor_id].append(float(p50))
    return latency
