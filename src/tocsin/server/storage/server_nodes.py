"""The server processes sharing the probes on PostgreSQL (``server_nodes``).

Each process refreshes its row on every probe reload; rows seen recently are the live
nodes a fair share divides by, and rows unseen for long are deleted by whichever node
passes next. Synchronous, for ``Database.run_write``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.tables import server_nodes


def heartbeat_node(
    conn: Connection, node: str, started_at: datetime, now: datetime, expire_before: datetime
) -> None:
    """Mark ``node`` seen at ``now`` and delete the rows of nodes unseen since
    ``expire_before``."""
    conn.execute(delete(server_nodes).where(server_nodes.c.seen_at < expire_before))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(server_nodes).values(node=node, started_at=started_at, seen_at=now)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[server_nodes.c.node], set_={"seen_at": statement.excluded.seen_at}
        )
    )


def live_nodes(conn: Connection, since: datetime) -> int:
    """How many nodes were seen at or after ``since``."""
    found = conn.execute(select(func.count()).where(server_nodes.c.seen_at >= since))
    return int(found.scalar_one())


async def forget_node(conn: AsyncConnection, node: str) -> None:
    """Delete ``node``'s row (its process is stopping)."""
    await conn.execute(delete(server_nodes).where(server_nodes.c.node == node))
