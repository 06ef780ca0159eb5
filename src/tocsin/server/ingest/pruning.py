"""Background housekeeping: pruning ping history down to the configured size."""

from __future__ import annotations

import asyncio
import logging

from tocsin.server.storage.database import Database
from tocsin.server.storage.pings import prune_pings

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60.0


async def _prune_loop(database: Database, keep: int) -> None:
    while True:
        try:
            async with database.write() as conn:
                removed = await prune_pings(conn, keep)
            if removed:
                logger.info("pings pruned count=%d keep=%d", removed, keep)
        except Exception:
            logger.exception("ping pruning failed")
        await asyncio.sleep(PRUNE_EVERY_SECONDS)


def prune_forever(database: Database, keep: int) -> asyncio.Task[None]:
    """Start a task that keeps only the newest ``keep`` pings per monitor, once a minute."""
    return asyncio.create_task(_prune_loop(database, keep), name="tocsin-ping-pruner")
