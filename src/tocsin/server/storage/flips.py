"""State-change history: recording and listing flips."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.history_pages import TimeKey, flips_page
from tocsin.server.storage.hot_rows import FlipRow
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.rows import FlipRecord
from tocsin.server.storage.tables import flips


async def record_flip(conn: AsyncConnection, monitor_id: int, flip: Flip, now: datetime) -> int:
    """Store ``flip``; return its id."""
    (flip_id,) = await conn.run_sync(insert_flips, [(monitor_id, flip, now)])
    return flip_id


def insert_flips(conn: Connection, items: list[tuple[int, Flip, datetime]]) -> list[int]:
    """Store many flips ``(monitor_id, flip, at)`` in one statement; return their ids in order.

    The one insert path of the ``flips`` table (the engines call it in their transactions).
    """
    rows = [
        FlipRow(monitor_id, at, flip.old_state.value, flip.new_state.value, flip.cause)
        for monitor_id, flip, at in items
    ]
    return statements_for(conn).insert_flips(conn, rows)


def last_down_causes(conn: Connection, monitor_ids: list[int]) -> dict[int, str]:
    """The cause of each monitor's newest flip to ``down``, by monitor id (monitors that
    never went down are absent): what a recovery says it recovered from. Read from the
    database, so it holds across restarts and across the nodes that share the probes."""
    if not monitor_ids:
        return {}
    newest = (
        select(func.max(flips.c.id))
        .where(flips.c.monitor_id.in_(monitor_ids), flips.c.new_state == MonitorState.DOWN.value)
        .group_by(flips.c.monitor_id)
    )
    rows = conn.execute(select(flips.c.monitor_id, flips.c.cause).where(flips.c.id.in_(newest)))
    return {int(monitor_id): str(cause) for monitor_id, cause in rows}


async def list_flips(
    conn: AsyncConnection, monitor_id: int, limit: int = 100, before: TimeKey | None = None
) -> list[FlipRecord]:
    """The newest ``limit`` flips of a monitor made before ``before`` (a flip's
    ``(created_at, id)``), newest first: ``history_pages.flips_page``, one range of the
    monitor's ``(monitor_id, created_at)`` index."""
    return await flips_page(conn, monitor_id, limit, before=before)
