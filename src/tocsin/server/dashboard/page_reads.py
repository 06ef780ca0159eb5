"""Batched reads for a page of the monitor list: uptime and latency of many monitors at once.

A page costs one query for the uptime of its monitors (three windows summed by the
database) and one for their hourly latency over the last day, whatever the page's size:
never a query per monitor. Both read the hourly aggregates (``result_hours``) only, so
the current hour shows once the rollup has reached it; the monitor's state (shown next
to them) is always current.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.probe_reads import MONITOR, Window
from tocsin.server.storage.probe_rows import Tally
from tocsin.server.storage.tables import result_hours
from tocsin.server.storage.types import utc_from_db


@dataclass(frozen=True)
class ListFigures:
    """What the list shows of one probed monitor beyond its record."""

    uptime: dict[Window, float | None]
    latency: list[tuple[datetime, float]]  # (hour, p50 ms), oldest first


async def list_figures(
    conn: AsyncConnection, monitor_ids: Sequence[int], now: datetime
) -> dict[int, ListFigures]:
    """Uptime per window and the last day's hourly p50 latency of each of ``monitor_ids``."""
    if not monitor_ids:
        return {}
    since = {window: window.since(now) for window in Window}
    sums = []
    for window in Window:
        recent = result_hours.c.hour >= since[window]
        sums.append(func.sum(case((recent, result_hours.c.count), else_=0)))
        sums.append(func.sum(case((recent, result_hours.c.failures), else_=0)))
    mine = (
        result_hours.c.monitor_id.in_(list(monitor_ids)),
        result_hours.c.component_key == MONITOR,
    )
    uptime_query = (
        select(result_hours.c.monitor_id, *sums)
        .where(*mine, result_hours.c.hour >= since[Window.MONTH])
        .group_by(result_hours.c.monitor_id)
    )
    uptimes: dict[int, dict[Window, float | None]] = {}
    for monitor_id, *numbers in await conn.execute(uptime_query):
        uptimes[monitor_id] = {
            window: Tally(int(numbers[i * 2] or 0), int(numbers[i * 2 + 1] or 0)).uptime_percent
            for i, window in enumerate(Window)
        }
    latency_query = (
        select(result_hours.c.monitor_id, result_hours.c.hour, result_hours.c.latency_p50)
        .where(*mine, result_hours.c.hour >= since[Window.DAY])
        .order_by(result_hours.c.monitor_id, result_hours.c.hour)
    )
    latency: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    for monitor_id, hour, p50 in await conn.execute(latency_query):
        if p50 is not None:
            latency[monitor_id].append((utc_from_db(hour) or hour, float(p50)))
    empty: dict[Window, float | None] = dict.fromkeys(Window)
    return {
        monitor_id: ListFigures(uptimes.get(monitor_id, empty), latency.get(monitor_id, []))
        for monitor_id in monitor_ids
    }
