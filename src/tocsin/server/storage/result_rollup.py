"""Hourly aggregates of probe results, and retention of raw results and aggregates.

An hour is summarised from its raw results once it is over: per monitor the count,
failures, warnings and latency p50/p95/max (nearest rank over ``total_ms``); per
component of an ``app`` monitor the count, failures, warnings and its numeric value's
min, max and last. Summaries are upserts, so rolling an hour again replaces it with the
same numbers. Raw results are deleted after the retention window (in bounded chunks, each
its own transaction, so SQLite's write lock is never held long), aggregates after 400 days.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.probe_reads import HOUR, MONITOR, floor_hour
from tocsin.server.storage.probe_rows import HourRecord
from tocsin.server.storage.probe_sql import PROBED_KINDS
from tocsin.server.storage.result_codec import decode_items, fetch_labels, shown_real
from tocsin.server.storage.tables import monitors, probe_results, result_hours
from tocsin.server.storage.types import utc_from_db

HOURS_KEPT = timedelta(days=400)
DELETE_CHUNK = 5000  # raw results deleted per transaction


@dataclass(frozen=True)
class RawResult:
    """What the rollup reads of one raw result."""

    monitor_id: int
    started_at: datetime
    verdict: str
    total_ms: float | None
    components: Sequence[dict[str, Any]] = ()


@dataclass
class _Bucket:
    count: int = 0
    failures: int = 0
    warnings: int = 0
    latencies: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, status: str) -> None:
        self.count += 1
        self.failures += status == "fail"
        self.warnings += status == "warn"


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of sorted values (``None`` for none)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def summarize(results: Iterable[RawResult], hour: datetime) -> list[tuple[int, HourRecord]]:
    """The aggregates of one hour's results: ``(monitor_id, record)`` per monitor and per
    component seen."""
    buckets: dict[tuple[int, str], _Bucket] = defaultdict(_Bucket)
    for result in sorted(results, key=lambda r: r.started_at):
        own = buckets[(result.monitor_id, MONITOR)]
        own.add(result.verdict)
        if result.total_ms is not None:
            own.latencies.append(result.total_ms)
        for component in result.components:
            bucket = buckets[(result.monitor_id, str(component["key"]))]
            bucket.add(str(component["status"]))
            number = _number(component.get("value"))
            if number is not None:
                bucket.values.append(number)
    summaries = []
    for (monitor_id, key), bucket in buckets.items():
        latencies = sorted(bucket.latencies)
        values = bucket.values
        record = HourRecord(
            component_key=key,
            hour=hour,
            count=bucket.count,
            failures=bucket.failures,
            warnings=bucket.warnings,
            latency_p50=percentile(latencies, 0.5),
            latency_p95=percentile(latencies, 0.95),
            latency_max=latencies[-1] if latencies else None,
            value_min=min(values) if values else None,
            value_max=max(values) if values else None,
            value_last=values[-1] if values else None,
        )
        summaries.append((monitor_id, record))
    return summaries


async def probed_monitor_ids(conn: AsyncConnection) -> list[int]:
    """Every monitor that has probe settings (http, app, tcp), by id."""
    query = select(monitors.c.id).where(monitors.c.kind.in_(PROBED_KINDS)).order_by(monitors.c.id)
    return list((await conn.scalars(query)).all())


async def read_hour(
    conn: AsyncConnection, monitor_ids: list[int], hour: datetime
) -> list[RawResult]:
    """The raw results of ``monitor_ids`` that started within ``hour``."""
    query = select(
        probe_results.c.monitor_id,
        probe_results.c.started_at,
        probe_results.c.verdict,
        probe_results.c.total_ms,
        probe_results.c.labels,
        probe_results.c.outcomes,
        probe_results.c.components,
    ).where(
        probe_results.c.monitor_id.in_(monitor_ids),
        probe_results.c.started_at >= hour,
        probe_results.c.started_at < hour + HOUR,
    )
    rows = (await conn.execute(query)).mappings().all()
    labels = await fetch_labels(conn, rows)
    return [
        RawResult(
            row["monitor_id"],
            row["started_at"],
            row["verdict"],
            shown_real(row["total_ms"]),
            decode_items(row, labels)[1],
        )
        for row in rows
    ]


def upsert_hours(conn: Connection, summaries: list[tuple[int, HourRecord]]) -> int:
    """Store hourly aggregates, replacing any already stored for the same hour and key."""
    if not summaries:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(result_hours)
    keys = ("monitor_id", "component_key", "hour")
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={
            column.name: statement.excluded[column.name]
            for column in result_hours.columns
            if column.name not in keys
        },
    )
    rows = [{"monitor_id": monitor_id, **asdict(record)} for monitor_id, record in summaries]
    conn.execute(statement, rows)
    return len(rows)


async def newest_rolled_hour(conn: AsyncConnection, monitor_ids: list[int]) -> datetime | None:
    """The newest hour rolled up for any of ``monitor_ids`` (one index seek per monitor)."""
    newest = (
        select(result_hours.c.hour)
        .where(result_hours.c.monitor_id == monitors.c.id, result_hours.c.component_key == MONITOR)
        .order_by(result_hours.c.hour.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = select(func.max(newest)).where(monitors.c.id.in_(monitor_ids))
    return utc_from_db((await conn.execute(query)).scalar())


async def oldest_result_at(conn: AsyncConnection, monitor_ids: list[int]) -> datetime | None:
    """When the oldest raw result of any of ``monitor_ids`` started (one seek per monitor)."""
    oldest = (
        select(probe_results.c.started_at)
        .where(probe_results.c.monitor_id == monitors.c.id)
        .order_by(probe_results.c.started_at)
        .limit(1)
        .scalar_subquery()
    )
    query = select(func.min(oldest)).where(monitors.c.id.in_(monitor_ids))
    return utc_from_db((await conn.execute(query)).scalar())


def delete_old_results(conn: Connection, monitor_ids: list[int], before: datetime) -> int:
    """Delete at most ``DELETE_CHUNK`` raw results of ``monitor_ids`` started before
    ``before``; return how many went (fewer than the chunk: none are left)."""
    doomed = (
        select(probe_results.c.id)
        .where(probe_results.c.monitor_id.in_(monitor_ids), probe_results.c.started_at < before)
        .limit(DELETE_CHUNK)
    )
    result = conn.execute(delete(probe_results).where(probe_results.c.id.in_(doomed)))
    return result.rowcount or 0


def delete_old_hours(conn: Connection, monitor_ids: list[int], before: datetime) -> int:
    """Delete the hourly aggregates of ``monitor_ids`` for hours before ``before``."""
    result = conn.execute(
        delete(result_hours).where(
            result_hours.c.monitor_id.in_(monitor_ids), result_hours.c.hour < before
        )
    )
    return result.rowcount or 0


def hours_between(first: datetime, last: datetime) -> list[datetime]:
    """The tops of the hours from ``first`` to ``last``, both included."""
    hours = []
    hour = floor_hour(first)
    while hour <= last:
        hours.append(hour)
        hour += HOUR
    return hours
