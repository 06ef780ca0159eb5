"""State-change history: recording and listing flips."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.rows import FlipRecord
from tocsin.server.storage.tables import flips


async def record_flip(conn: AsyncConnection, monitor_id: int, flip: Flip, now: datetime) -> int:
    """Store ``flip``; return its id."""
    result = await conn.execute(
        insert(flips).values(
            monitor_id=monitor_id,
            created_at=now,
            old_state=flip.old_state.value,
            new_state=flip.new_state.value,
            cause=flip.cause,
        )
    )
    flip_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    assert flip_id is not None
    return int(flip_id)


def insert_flips(conn: Connection, items: list[tuple[int, Flip, datetime]]) -> list[int]:
    """Store many flips ``(monitor_id, flip, at)`` in one statement; return their ids in order."""
    rows = [
        (monitor_id, at, flip.old_state.value, flip.new_state.value, flip.cause)
        for monitor_id, flip, at in items
    ]
    return statements_for(conn).insert_flips(conn, rows)


async def list_flips(conn: AsyncConnection, monitor_id: int, limit: int = 100) -> list[FlipRecord]:
    """The newest ``limit`` flips of a monitor, newest first."""
    rows = await conn.execute(
        select(flips.c.created_at, flips.c.old_state, flips.c.new_state, flips.c.cause)
        .where(flips.c.monitor_id == monitor_id)
        .order_by(flips.c.id.desc())
        .limit(limit)
    )
    return [FlipRecord(*row) for row in rows.all()]
