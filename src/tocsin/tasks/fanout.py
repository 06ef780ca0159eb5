"""In-memory fan-out of task events to asyncio subscribers (the base of both event hubs).

Each open SSE stream holds a ``QueueSubscription``; a hub (Redis pub/sub, or SQL polling)
feeds one shared source into all of them, so the cost of watching a task does not grow with
the number of streams on the backend side.
"""

from __future__ import annotations

import asyncio
from collections import deque

from tocsin.tasks.records import TaskEvent
from tocsin.tasks.store import KEEPALIVE_TICK

_QUEUE_LIMIT = 1000


class QueueSubscription:
    """One subscriber's queue of events for one task.

    A deque plus one waiter future, rather than an ``asyncio.Queue``: with a thousand
    subscribers every event wakes a thousand of these, so the per-wake-up cost matters.
    """

    def __init__(self, hub: FanOut, task_id: str) -> None:
        self.task_id = task_id
        self._hub = hub
        self._items: deque[TaskEvent | str | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()

    def push(self, item: TaskEvent | str | None) -> None:
        """Queue an event, ``KEEPALIVE_TICK`` or ``None`` (re-read the log) and wake up."""
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
        self.push(KEEPALIVE_TICK)

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
        self._hub.remove(self)


class FanOut:
    """Subscribers by task id; ``dispatch`` hands one event object to all of a task's."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[QueueSubscription]] = {}

    def add(self, task_id: str) -> QueueSubscription:
        """Register a new subscriber of ``task_id``."""
        subscription = QueueSubscription(self, task_id)
        self.subscribers.setdefault(task_id, set()).add(subscription)
        return subscription

    def remove(self, subscription: QueueSubscription) -> None:
        """Forget ``subscription`` (and its task once nobody watches it)."""
        subscribers = self.subscribers.get(subscription.task_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self.subscribers[subscription.task_id]

    def dispatch(self, task_id: str, event: TaskEvent) -> None:
        """Give ``event`` to every subscriber of ``task_id``."""
        for subscription in list(self.subscribers.get(task_id, ())):
            subscription.push(event)

    def resync_all(self) -> None:
        """Tell every subscriber that events may have been missed."""
        for subscribers in self.subscribers.values():
            for subscription in subscribers:
                subscription.push(None)
