"""The SQL store's event hub: one polling loop per process instead of one per stream.

SQL has no push, so this is the documented polling fallback, made to scale with the number
of *watched tasks* rather than open streams: every ``interval`` seconds it reads each watched
task's new events once (in a worker thread) and fans them out in memory. A task's cursor
starts at the beginning of its log, so a new subscriber never misses an event; streams drop
the ones they already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tocsin.tasks.fanout import FanOut, QueueSubscription
from tocsin.tasks.store import TaskStore

logger = logging.getLogger(__name__)


class PollingHub(FanOut):
    """Polls ``store.events_after`` for every watched task every ``interval`` seconds."""

    def __init__(self, store: TaskStore, *, interval: float = 1.0) -> None:
        super().__init__()
        self.store = store
        self.interval = interval
        self._cursors: dict[str, str | None] = {}
        self._poller: asyncio.Task[None] | None = None

    def subscribe(self, task_id: str) -> QueueSubscription:
        """Start receiving ``task_id``'s events; close the subscription when done."""
        subscription = self.add(task_id)
        self._cursors.setdefault(task_id, None)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._run())
        return subscription

    async def ready(self) -> None:
        """Polling needs no connection: always ready."""

    async def _run(self) -> None:
        while self.subscribers:
            await asyncio.sleep(self.interval)
            for task_id in list(self.subscribers):
                await self._poll(task_id)
            for task_id in set(self._cursors) - set(self.subscribers):
                del self._cursors[task_id]

    async def _poll(self, task_id: str) -> None:
        try:
            events = await asyncio.to_thread(
                self.store.events_after, task_id, self._cursors.get(task_id)
            )
        except Exception as exc:
            logger.warning("task event poll failed task_id=%s error=%s", task_id, exc)
            return
        for event in events:
            self.dispatch(task_id, event)
            self._cursors[task_id] = event.id

    async def aclose(self) -> None:
        """Stop polling."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
