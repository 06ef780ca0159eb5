"""Keyset pages of one monitor's history: its probe results, pings and flips, older or
newer than a row the reader has seen (the monitor page's *Older* / *Newer* links).

Each page is one range of one index, whatever its depth: results and flips go by
``(time, id)`` on their ``(monitor_id, started_at|created_at)`` index, pings by their
number on ``(monitor_id, n)``. The time bound is written out on its own
(``started_at <= t``) besides the tie-break on the id, so PostgreSQL uses it as the
index condition instead of filtering every newer row (checked with EXPLAIN on a week of
results). Flips are ordered by time rather than by id: ordered by id, PostgreSQL walks
the primary key of every monitor's flips to find a quiet monitor's few.

``before`` pages come newest first; ``after`` pages are read oldest first and handed back
newest first too, so a caller shows every page the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.probe_rows import ResultRecord
from tocsin.server.storage.result_codec import decode_result, fetch_labels
from tocsin.server.storage.rows import FlipRecord, PingRecord
from tocsin.server.storage.tables import flips, pings, probe_results

TimeKey = tuple[datetime, int]
"""A result's ``(started_at, id)`` or a flip's ``(created_at, id)``."""


def _older(time: Any, row_id: Any, key: TimeKey) -> ColumnElement[bool]:
    at, key_id = key
    return and_(time <= at, or_(time < at, row_id < key_id))


def _newer(time: Any, row_id: Any, key: TimeKey) -> ColumnElement[bool]:
    at, key_id = key
    return and_(time >= at, or_(time > at, row_id > key_id))


async def results_page(
    conn: AsyncConnection,
    monitor_id: int,
    limit: int,
    *,
    before: TimeKey | None = None,
    after: TimeKey | None = None,
) -> list[ResultRecord]:
    """Up to ``limit`` results of the monitor started before ``before`` (the newest ones),
    or the ``limit`` just after ``after``; newest first either way."""
    table = probe_results
    query = select(table).where(table.c.monitor_id == monitor_id)
    if after is not None:
        query = query.where(_newer(table.c.started_at, table.c.id, after))
        query = query.order_by(table.c.started_at, table.c.id)
    else:
        if before is not None:
            query = query.where(_older(table.c.started_at, table.c.id, before))
        query = query.order_by(table.c.started_at.desc(), table.c.id.desc())
    rows = list((await conn.execute(query.limit(limit))).mappings().all())
    if after is not None:
        rows.reverse()
    labels = await fetch_labels(conn, rows)
    return [decode_result(row, labels) for row in rows]


async def flips_page(
    conn: AsyncConnection,
    monitor_id: int,
    limit: int,
    *,
    before: TimeKey | None = None,
    after: TimeKey | None = None,
) -> list[FlipRecord]:
    """Up to ``limit`` state changes of the monitor before ``before`` (the newest ones), or
    the ``limit`` just after ``after``; newest first either way."""
    table = flips
    query = select(
        table.c.id, table.c.created_at, table.c.old_state, table.c.new_state, table.c.cause
    ).where(table.c.monitor_id == monitor_id)
    if after is not None:
        query = query.where(_newer(table.c.created_at, table.c.id, after))
        query = query.order_by(table.c.created_at, table.c.id)
    else:
        if before is not None:
            query = query.where(_older(table.c.created_at, table.c.id, before))
        query = query.order_by(table.c.created_at.desc(), table.c.id.desc())
    found = [FlipRecord(*row) for row in (await conn.execute(query.limit(limit))).all()]
    return found[::-1] if after is not None else found


async def pings_page(
    conn: AsyncConnection,
    monitor_id: int,
    limit: int,
    *,
    before: int | None = None,
    after: int | None = None,
) -> list[PingRecord]:
    """Up to ``limit`` pings of the monitor numbered below ``before`` (the newest ones), or
    the ``limit`` just above ``after``; newest first either way."""
    query = select(pings).where(pings.c.monitor_id == monitor_id)
    if after is not None:
        query = query.where(pings.c.n > after).order_by(pings.c.n)
    else:
        if before is not None:
            query = query.where(pings.c.n < before)
        query = query.order_by(pings.c.n.desc())
    rows = (await conn.execute(query.limit(limit))).mappings().all()
    found = [PingRecord.from_row(row) for row in rows]
    return found[::-1] if after is not None else found
