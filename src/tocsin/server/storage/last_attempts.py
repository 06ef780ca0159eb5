"""The newest delivery attempt of each of many channels, in one query: how the channel
list (dashboard) and the channels API show whether a channel's alerts get through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.tables import channels, delivery_attempts


@dataclass(frozen=True)
class LastAttempt:
    """A channel's newest delivery attempt, for the channel list and the channels API."""

    started_at: datetime
    outcome: str  # delivered, retry or failed
    http_status: int | None
    error: str | None  # as stored: mask it before showing it


async def last_attempts(
    conn: AsyncConnection, channel_ids: Sequence[int]
) -> dict[int, LastAttempt]:
    """The newest delivery attempt of each of ``channel_ids`` that has one, in one query.

    Each channel's newest id is its own ``max`` over the ``(channel_id, id)`` index (one
    index probe a channel): a ``GROUP BY channel_id`` would read every attempt of the 30
    days kept (50 channels, a million attempts: 415 ms against 4 ms on PostgreSQL, 230 ms
    against 0.05 ms on SQLite).
    """
    if not channel_ids:
        return {}
    attempt, other = delivery_attempts.c, delivery_attempts.alias("other").c
    newest = (
        select(func.max(other.id))
        .where(other.channel_id == channels.c.id)
        .correlate(channels)
        .scalar_subquery()
    )
    newest_ids = select(newest).where(channels.c.id.in_(list(channel_ids)))
    query = select(
        attempt.channel_id, attempt.started_at, attempt.outcome, attempt.http_status, attempt.error
    ).where(attempt.id.in_(newest_ids))
    rows = (await conn.execute(query)).all()
    return {
        row.channel_id: LastAttempt(row.started_at, row.outcome, row.http_status, row.error)
        for row in rows
    }
