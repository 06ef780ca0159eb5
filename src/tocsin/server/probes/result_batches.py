"""Hands probe outcomes to their consumer in batches, without ever stalling the probes.

Modelled on the ping writer's group commit: outcomes queue up while the previous batch is
being written, and the next batch takes everything queued (up to ``batch_max``), so
batches grow with load by themselves. The queue is bounded: when the consumer falls so far
behind that ``capacity`` outcomes wait, the oldest are dropped (and counted) rather than
making runs wait — a newer outcome of a monitor says more than an older one.

With ``spacing``, a batch starts at least that long after the previous one started
(unless a full batch is waiting): when each batch is a transaction whose fixed cost
outweighs its rows, and the writes finish quickly, batches would otherwise stay tiny.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

from tocsin.server.background import wait_event
from tocsin.server.probes.jobs import ProbeOutcome

logger = logging.getLogger(__name__)

# Receives each batch; may be a plain function or a coroutine function.
OnResults = Callable[[list[ProbeOutcome]], Awaitable[None] | None]

_DROP_LOG_SECONDS = 60.0


class ResultBatcher:
    """Owns the outcome queue and the task that hands it to ``on_results``."""

    def __init__(
        self,
        on_results: OnResults,
        *,
        batch_max: int,
        capacity: int,
        window: float,
        spacing: float = 0.0,
    ) -> None:
        if batch_max < 1 or capacity < batch_max:
            raise ValueError("batch_max must be at least 1 and capacity at least batch_max")
        self.on_results = on_results
        self.batch_max = batch_max
        self.capacity = capacity
        self.window = window
        self.spacing = spacing
        self.batches = 0
        self.write_errors = 0
        self.dropped = 0
        self._queue: deque[ProbeOutcome] = deque()
        self._ready = asyncio.Event()
        self._hurry = asyncio.Event()  # a full batch waits, or closing: stop spacing
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._drop_logged_at: float | None = None
        self._taken_at = -math.inf  # when the last batch was taken (time.monotonic)

    @property
    def queued(self) -> int:
        """Outcomes waiting for ``on_results``."""
        return len(self._queue)

    def start(self) -> None:
        """Start the task that delivers batches."""
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="tocsin-probe-results")

    def put(self, outcome: ProbeOutcome) -> None:
        """Queue ``outcome``; never waits (drops the oldest one when full)."""
        if len(self._queue) >= self.capacity:
            self._queue.popleft()
            self.dropped += 1
            now = time.monotonic()
            if self._drop_logged_at is None or now - self._drop_logged_at >= _DROP_LOG_SECONDS:
                self._drop_logged_at = now
                logger.warning(
                    "probe results dropped capacity=%d dropped_total=%d: the consumer is too slow",
                    self.capacity,
                    self.dropped,
                )
        self._queue.append(outcome)
        self._ready.set()
        if len(self._queue) >= self.batch_max:
            self._hurry.set()

    async def close(self) -> None:
        """Deliver everything queued, then stop."""
        if self._task is None:
            return
        self._closing = True
        self._ready.set()
        self._hurry.set()
        await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._ready.clear()
                await self._ready.wait()
                if self.window > 0 and not self._closing:
                    # Idle until now: let the outcomes of the same burst join this batch.
                    await asyncio.sleep(self.window)
                continue
            wait = self._taken_at + self.spacing - time.monotonic()
            if wait > 0 and len(self._queue) < self.batch_max and not self._closing:
                self._hurry.clear()
                await wait_event(self._hurry, wait)
            self._taken_at = time.monotonic()
            count = min(self.batch_max, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            await self._deliver(batch)

    async def _deliver(self, batch: list[ProbeOutcome]) -> None:
        self.batches += 1
        try:
            result = self.on_results(batch)
            if inspect.isawaitable(result):
                await result
        except Exception:  # the consumer's failure must not stop the results that follow
            self.write_errors += 1
            logger.exception("probe results not written size=%d", len(batch))
