"""Background housekeeping: pruning ping history down to the configured size."""

from __future__ import annotations

import asyncio
import logging

from tocsin.server.background import cancel_and_wait
from tocsin.server.storage.database import Database
from tocsin.server.storage.pings import prune_pings

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60.0


class Pruner:
    """Keeps only the newest ``keep`` pings per monitor, trimming once a minute."""

    def __init__(self, database: Database, keep: int) -> None:
        self.database = database
        self.keep = keep
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the pruning task."""
        self._task = asyncio.create_task(self._run(), name="tocsin-ping-pruner")

    @property
    def running(self) -> bool:
        """Whether the pruning task is alive (started, not stopped and not dead)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop the pruning task (a prune in progress is rolled back)."""
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                async with self.database.write() as conn:
                    removed = await prune_pings(conn, self.keep)
                if removed:
                    logger.info("pings pruned count=%d keep=%d", removed, self.keep)
            except Exception:
                logger.exception("ping pruning failed")
            await asyncio.sleep(PRUNE_EVERY_SECONDS)
