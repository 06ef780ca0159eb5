"""Login throttling: at most ``FAILURE_LIMIT`` failures per ``FAILURE_WINDOW``, counted per
username and per client address, in the database (so every server node sees them)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.login_failures import recent_failures

FAILURE_LIMIT = 5
FAILURE_WINDOW = timedelta(minutes=15)


async def login_retry_after(
    conn: AsyncConnection, username: str, address: str, now: datetime
) -> int | None:
    """Seconds until a login for ``username`` from ``address`` may be tried again, or
    ``None`` if it may be tried now."""
    since = now - FAILURE_WINDOW
    waits: list[timedelta] = []
    for times in (
        await recent_failures(conn, username=username, since=since, limit=FAILURE_LIMIT),
        await recent_failures(conn, address=address, since=since, limit=FAILURE_LIMIT),
    ):
        if len(times) >= FAILURE_LIMIT:
            # Once the oldest of the newest ``FAILURE_LIMIT`` leaves the window, the count
            # drops below the limit.
            waits.append(times[-1] + FAILURE_WINDOW - now)
    if not waits:
        return None
    return max(1, math.ceil(max(waits).total_seconds()))
