"""Recent failed logins, kept in the database so every server node counts the same ones."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.tables import login_failures


async def record_login_failure(
    conn: AsyncConnection, username: str, address: str, now: datetime, keep: timedelta
) -> None:
    """Note a failed login; forget failures older than ``keep`` on the way."""
    await conn.execute(delete(login_failures).where(login_failures.c.at <= now - keep))
    await conn.execute(
        insert(login_failures).values(username=username[:100], address=address[:64], at=now)
    )


async def recent_failures(
    conn: AsyncConnection,
    *,
    username: str | None = None,
    address: str | None = None,
    since: datetime,
    limit: int,
) -> list[datetime]:
    """When the newest ``limit`` failures after ``since`` for ``username`` (or ``address``)
    happened, newest first."""
    column = login_failures.c.username if username is not None else login_failures.c.address
    value = username if username is not None else address
    rows = await conn.execute(
        select(login_failures.c.at)
        .where(column == value, login_failures.c.at > since)
        .order_by(login_failures.c.at.desc())
        .limit(limit)
    )
    return list(rows.scalars().all())


async def clear_login_failures(conn: AsyncConnection, username: str) -> None:
    """Forget ``username``'s failures (after a successful login)."""
    await conn.execute(delete(login_failures).where(login_failures.c.username == username))
