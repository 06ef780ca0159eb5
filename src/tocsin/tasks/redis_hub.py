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
from collections import deque
from collections.abc import Callable

import redis.asyncio as aioredis

from tocsin.tasks.records import TaskEvent, TaskRecord
from tocsin.tasks.store import KEEPALIVE_TICK

logger = logging.getLogger(__name__)

_QUEUE_LIMIT = 1000


class RedisSubscription:
    """One subscriber's queue of events for one task.

    A deque plus one waiter future, rather than an ``asyncio.Queue``: with a thousand
    subscribers every event wakes a thousand of these, so the per-wake-up cost matters.
    """

    def __init__(self, hub: RedisEventHub, task_id: str) -> None:
        self.task_id = task_id
        self._hub = hub
        self._items: deque[TaskEvent | str | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()

    def _push(self, item: TaskEvent | str | None) -> None:
        if len(self._items) >= _QUEUE_LIMIT:
            # A stalled subscriber: drop what it has and tell it to re-read the log.
            self._items.clear()
            item = None
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def nudge(self) -> None:
        """Wake the subscriber with ``KEEPALIVE_TICK`` (time for a keep-alive comment)."""
        self._push(KEEPALIVE_TICK)

    async def get(self) -> TaskEvent | str | None:
        """The next item: an event, ``KEEPALIVE_TICK``, or ``None`` (re-read the log)."""
        while not self._items:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def close(self) -> None:
        """Stop receiving."""
        self._hub._remove(self)


class RedisEventHub:
    """Reads the store's pub/sub channel once and hands each event to its task's subscribers."""

    def __init__(self, connect: Callable[[], aioredis.Redis], *, channel: str) -> None:
        self._connect = connect
        self.channel = channel
        self._subscribers: dict[str, set[RedisSubscription]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def subscribe(self, task_id: str) -> RedisSubscription:
        """Start receiving ``task_id``'s events; close the subscription when done."""
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._run())
        subscription = RedisSubscription(self, task_id)
        self._subscribers.setdefault(task_id, set()).add(subscription)
        return subscription

    async def ready(self, timeout: float = 5.0) -> None:
        """Wait until the shared subscription is active (events published later arrive)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    def _remove(self, subscription: RedisSubscription) -> None:
        subscribers = self._subscribers.get(subscription.task_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.task_id]

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
                    self._broadcast_resync()
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
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                await client.aclose()

    def _dispatch(self, payload: bytes | str) -> None:
        text = payload.decode() if isinstance(payload, bytes) else payload
        task_id, event_id, data = text.split(" ", 2)
        subscribers = self._subscribers.get(task_id)
        if not subscribers:
            return
        event = TaskEvent(event_id, TaskRecord.from_json(data))
        for subscription in list(subscribers):
            subscription._push(event)

    def _broadcast_resync(self) -> None:
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription._push(None)

    async def aclose(self) -> None:
        """Stop the shared feed."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
