"""What the dashboard's maintenance page reads beyond ``holds.list_holds``: the uuids of
the monitors its windows and silences name (one query, for links and to spot unknown
names), and monitor names to suggest in its forms."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.tables import monitors

# Names looked up at once at most (a page's windows and silences name far fewer).
_MAX_NAMES = 5000


async def monitor_uuids(
    conn: AsyncConnection, project_id: int, names: Iterable[str]
) -> dict[str, str]:
    """The uuid of each monitor among ``names`` that exists, by name."""
    wanted = sorted(set(names))[:_MAX_NAMES]
    if not wanted:
        return {}
    query = select(monitors.c.name, monitors.c.uuid).where(
        monitors.c.project_id == project_id, monitors.c.name.in_(wanted)
    )
    return {str(name): str(uuid) for name, uuid in (await conn.execute(query)).all()}


async def monitor_names(conn: AsyncConnection, project_id: int, limit: int) -> list[str]:
    """The first ``limit`` monitor names of the project, by name (names only: cheap)."""
    query = (
        select(monitors.c.name)
        .where(monitors.c.project_id == project_id)
        .order_by(monitors.c.name)
        .limit(limit)
    )
    return [str(name) for name in (await conn.execute(query)).scalars().all()]
