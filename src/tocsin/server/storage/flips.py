"""State-change history: recording and listing flips."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.history_pages import TimeKey, flips_page
from tocsin.server.storage.hot_rows import FlipRow
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.rows import FlipRecord


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


async def list_flips(
    conn: AsyncConnection, monitor_id: int, limit: int = 100, before: TimeKey | None = None
) -> list[FlipRecord]:
    """The newest ``limit`` flips of a monitor made before ``before`` (a flip's
    ``(created_at, id)``), newest first: ``history_pages.flips_page``, one range of the
    monitor's ``(monitor_id, created_at)`` index."""
    return await flips_page(conn, monitor_id, limit, before=before)
