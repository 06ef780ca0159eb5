"""The result rollup: hourly aggregates of probe results, and their retention.

Every few minutes ``ResultRollup`` summarises each hour that has ended (and settled: a
result of 10:59 may be written a little after 11:00) and it has not summarised yet,
catching up every missed hour after a stop, then deletes raw results past the retention
window (never ones not summarised yet) and, once a day, aggregates past 400 days.
Summaries are upserts, so two server processes on one PostgreSQL may both run it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from tocsin.server.background import cancel_and_wait
from tocsin.server.storage.database import Database
from tocsin.server.storage.probe_reads import HOUR, floor_hour
from tocsin.server.storage.result_rollup import (
    DELETE_CHUNK,
    HOURS_KEPT,
    delete_old_hours,
    delete_old_results,
    hours_between,
    newest_rolled_hour,
    oldest_result_at,
    probed_monitor_ids,
    read_hour,
    summarize,
    upsert_hours,
)

logger = logging.getLogger(__name__)

ROLLUP_EVERY_SECONDS = 300.0
SETTLE = timedelta(minutes=5)  # how long after its end an hour is summarised
HOURS_PRUNE_EVERY_SECONDS = 86_400.0
MONITOR_CHUNK = 500  # monitors summarised per read and per transaction


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start : start + MONITOR_CHUNK] for start in range(0, len(ids), MONITOR_CHUNK)]


class ResultRollup:
    """Summarises ended hours of probe results and applies both retentions, periodically."""

    def __init__(
        self, database: Database, retention: timedelta, every: float = ROLLUP_EVERY_SECONDS
    ) -> None:
        self.database = database
        self.retention = retention
        self.every = every
        self.next_hour: datetime | None = None  # the first hour not summarised yet
        self._hours_pruned_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the periodic task."""
        self._task = asyncio.create_task(self._run(), name="tocsin-result-rollup")

    @property
    def running(self) -> bool:
        """Whether the task is alive (started, not stopped and not dead)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop the task (a transaction in progress is rolled back)."""
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once(datetime.now(UTC))
            except Exception:
                logger.exception("result rollup failed")
            await asyncio.sleep(self.every)

    async def run_once(self, now: datetime) -> None:
        """One pass: summarise the ended hours, then delete what is past retention."""
        async with self.database.read() as conn:
            ids = await probed_monitor_ids(conn)
        if not ids:
            return
        summarised = await self.roll_up(ids, now)
        if summarised:
            logger.info("results rolled up hours=%d", summarised)
        await self.prune(ids, now)

    async def roll_up(self, ids: list[int], now: datetime) -> int:
        """Summarise every ended hour from ``next_hour`` on; return how many hours."""
        last = floor_hour(now - SETTLE) - HOUR
        first = self.next_hour or await self._first_hour(ids)
        if first is None:
            return 0
        hours = hours_between(first, last)
        for hour in hours:
            for chunk in _chunks(ids):
                async with self.database.read() as conn:
                    results = await read_hour(conn, chunk, hour)
                await self.database.run_write(upsert_hours, summarize(results, hour))
            self.next_hour = hour + HOUR
        return len(hours)

    async def _first_hour(self, ids: list[int]) -> datetime | None:
        """After a start: the newest hour summarised (again, as a stop may have cut it
        short), or the hour of the oldest raw result when that is later (none is kept
        from before); ``None`` when there are no raw results."""
        newest: list[datetime] = []
        oldest: list[datetime] = []
        async with self.database.read() as conn:
            for chunk in _chunks(ids):
                found = await newest_rolled_hour(conn, chunk)
                newest += [found] if found else []
                found = await oldest_result_at(conn, chunk)
                oldest += [found] if found else []
        if not oldest:
            return None
        first = floor_hour(min(oldest))
        return max(first, max(newest)) if newest else first

    async def prune(self, ids: list[int], now: datetime) -> None:
        """Delete raw results past the retention window (not summarised ones) and, once a
        day, hourly aggregates older than 400 days."""
        cutoff = now - self.retention
        if self.next_hour is not None:
            cutoff = min(cutoff, self.next_hour)
        removed = 0
        for chunk in _chunks(ids):
            while True:
                gone = await self.database.run_write(delete_old_results, chunk, cutoff)
                removed += gone
                if gone < DELETE_CHUNK:
                    break
        if removed:
            logger.info("probe results pruned count=%d before=%s", removed, cutoff.isoformat())
        ticks = time.monotonic()
        if (
            self._hours_pruned_at is None
            or ticks - self._hours_pruned_at >= HOURS_PRUNE_EVERY_SECONDS
        ):
            self._hours_pruned_at = ticks
            hours_gone = 0
            for chunk in _chunks(ids):
                hours_gone += await self.database.run_write(
                    delete_old_hours, chunk, now - HOURS_KEPT
                )
            if hours_gone:
                logger.info("hourly aggregates pruned count=%d", hours_gone)
