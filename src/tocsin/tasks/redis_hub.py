"""One Redis pub/sub subscription per process, fanned out in memory to asyncio streams.

A thousand open SSE streams on one task cost one Redis connection, not a thousand. The
reader task starts lazily on the first ``subscribe`` (in the running event loop, after any
fork) and reconnects with back-off; after a reconnect each subscriber receives ``None``,
meaning "events may have been missed: re-read the log from your last id".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

from tocsin.tasks.fanout import FanOut, QueueSubscription
from tocsin.tasks.records import TaskEvent, TaskRecord

logger = logging.getLogger(__name__)


class RedisEventHub(FanOut):
    """Reads the store's pub/sub channel once and hands each event to its task's subscribers."""

    def __init__(self, connect: Callable[[], aioredis.Redis], *, channel: str) -> None:
        super().__init__()
        self._connect = connect
        self.channel = channel
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def subscribe(self, task_id: str) -> QueueSubscription:
        """Start receiving ``task_id``'s events; close the subscription when done."""
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._run())
        return self.add(task_id)

    async def ready(self, timeout: float = 5.0) -> None:
        """Wait until the shared subscription is active (events published later arrive)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def _run(self) -> None:
        delay = 0.1
        first = True
        while True:
            client = self._connect()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                if not first:
                    self.resync_all()
                first = False
                delay = 0.1
                async for message in pubsub.listen():
                    self._dispatch(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.clear()
                logger.warning(
                    "task event feed lost channel=%s error=%s retry_in=%.1f",
                    self.channel,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed in redis 8
                await client.aclose()

    def _dispatch(self, payload: bytes | str) -> None:
        text = payload.decode() if isinstance(payload, bytes) else payload
        task_id, event_id, data = text.split(" ", 2)
        if task_id in self.subscribers:  # parse only what someone watches, and only once
            self.dispatch(task_id, TaskEvent(event_id, TaskRecord.from_json(data)))

    async def aclose(self) -> None:
        """Stop the shared feed."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
