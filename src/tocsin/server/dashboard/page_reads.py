"""Batched reads for a page of the monitor list: uptime and latency of many monitors at once.

A page costs at most one query for the uptime of its monitors (three windows summed by
the database) and one for their hourly latency over the last day, whatever the page's
size: never a query per monitor. Both read the hourly aggregates (``result_hours``)
only, so the current hour shows once the rollup has reached it; the monitor's state
(shown next to them) is always current.

Uptime over 30 days is the costly sum (720 hours a monitor) and the aggregates behind
it change only when the rollup closes an hour, so each monitor's uptime is kept for a
minute per database (the htmx poll every 5 seconds then reads only the latency).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.probe_reads import Window, hourly_p50s, uptimes_by_monitor

UPTIME_KEPT_SECONDS = 60.0
_MAX_KEPT = 50_000  # monitors whose uptime one database's cache holds at most

Uptime = dict[Window, float | None]


@dataclass(frozen=True)
class ListFigures:
    """What the list shows of one probed monitor beyond its record."""

    uptime: Uptime
    latency: list[float]  # hourly p50 in ms over the last day, oldest first


@dataclass(frozen=True)
class _Kept:
    uptime: Uptime
    month_since: datetime  # the windows' hours move on when this does
    until: float  # monotonic


# One cache per database (its engine), so databases (and tests) never share figures.
_kept: WeakKeyDictionary[Engine, dict[int, _Kept]] = WeakKeyDictionary()


async def list_figures(
    conn: AsyncConnection, monitor_ids: Sequence[int], now: datetime
) -> dict[int, ListFigures]:
    """Uptime per window and the last day's hourly p50 latency of each of ``monitor_ids``."""
    if not monitor_ids:
        return {}
    uptimes = await _uptimes(conn, monitor_ids, now)
    latency = await hourly_p50s(conn, monitor_ids, Window.DAY.since(now))
    return {
        monitor_id: ListFigures(uptimes[monitor_id], latency.get(monitor_id, []))
        for monitor_id in monitor_ids
    }


async def _uptimes(
    conn: AsyncConnection, monitor_ids: Sequence[int], now: datetime
) -> dict[int, Uptime]:
    """Each monitor's uptime per window: kept ones from the cache, the rest in one query."""
    kept = _kept.setdefault(conn.engine.sync_engine, {})
    month_since = Window.MONTH.since(now)
    clock = time.monotonic()
    found: dict[int, Uptime] = {}
    for monitor_id in monitor_ids:
        entry = kept.get(monitor_id)
        if entry is not None and entry.until > clock and entry.month_since == month_since:
            found[monitor_id] = entry.uptime
    missing = [monitor_id for monitor_id in monitor_ids if monitor_id not in found]
    if not missing:
        return found
    read = await uptimes_by_monitor(conn, missing, now)
    if len(kept) + len(missing) > _MAX_KEPT:
        kept.clear()
    until = clock + UPTIME_KEPT_SECONDS
    for monitor_id in missing:
        uptime = read.get(monitor_id, dict.fromkeys(Window))
        kept[monitor_id] = _Kept(uptime, month_since, until)
        found[monitor_id] = uptime
    return found
