"""Ping history: listing and pruning."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.history_pages import pings_page
from tocsin.server.storage.rows import PingRecord
from tocsin.server.storage.tables import monitors, pings


async def list_pings(
    conn: AsyncConnection, monitor_id: int, limit: int = 100, before: int | None = None
) -> list[PingRecord]:
    """The newest ``limit`` pings of a monitor numbered below ``before``, newest first:
    ``history_pages.pings_page``, one range of the ``(monitor_id, n)`` index."""
    return await pings_page(conn, monitor_id, limit, before=before)


async def prune_pings(conn: AsyncConnection, keep: int) -> int:
    """Delete all but the newest ``keep`` pings of every monitor; return how many went."""
    total = 0
    rows = await conn.execute(
        select(monitors.c.id, monitors.c.n_pings).where(monitors.c.n_pings > keep)
    )
    for monitor_id, n_pings in rows.all():
        result = await conn.execute(
            delete(pings).where(pings.c.monitor_id == monitor_id, pings.c.n <= n_pings - keep)
        )
        total += result.rowcount or 0
    return total
