"""The deadline watch: flips monitors to ``grace`` and ``down`` the moment silence runs out.

The nearest deadlines live in memory as a heap; the task sleeps exactly until the first
one (or until a nearer one is announced), so a missed heartbeat alerts within about a
second without a polling loop. Every ``reload_seconds`` it re-reads the deadlines of the
coming window from the database, which picks up edits made by other processes (a
``tocsin apply`` on the same database, another server node).

Each due monitor is re-read (locked on PostgreSQL) inside the transaction that flips it,
and the state machine decides again from the stored status, so a deadline that moved
meanwhile (a ping just arrived) does nothing.

When many deadlines are due at once, the monitors in ``grace`` go first: their deadline
takes them ``down`` and owes an alert, while the others' mostly only start their grace
time.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection

from tocsin.logs import counted, log_each_or_count
from tocsin.server.alerts.outbox import ClaimedAlert, insert_alerts
from tocsin.server.background import cancel_and_wait, run_due_loop
from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip, on_deadline
from tocsin.server.storage.database import Database
from tocsin.server.storage.deadline_states import (
    deadlines_until,
    due_records,
    monitors_to_decide,
    set_deadline_states,
)
from tocsin.server.storage.flips import insert_flips
from tocsin.server.storage.hot_rows import DeadlineStateRow, DueMonitor

logger = logging.getLogger(__name__)

# Deadlines are processed in chunks, one transaction each; each chunk's alerts are sent
# as soon as it commits. A chunk starts whenever a transaction slot is free (SQLite 1,
# PostgreSQL PARALLEL_CHUNKS), with the monitors due at that moment, those going down
# first: a deadline that passes while others are being written waits for a slot, never
# for a whole batch of chunks to end. A run of chunks starts at CHUNK monitors, so the
# first alerts of a burst leave at once, and each later chunk may take twice as many up
# to MAX_CHUNK, so 10,000 monitors due together cost 13 transactions, not 100: a
# transaction's fixed part (begin, commit, the alert policy's handful of statements, a
# delivery hand-over) is paid per chunk, not per row.
#
# On PostgreSQL the chunks in flight hold at most MAX_CHUNK monitors between them (two
# of 500): the driver and the flip logic run on the event loop, so chunks written side
# by side share it, each taking about as many times its own CPU as there are, and a
# chunk's alerts leave only when it commits. Side by side, one chunk's round trips
# overlap the other's work. bench/alerts.py, PostgreSQL, three runs each: alert p99
# 1.08 - 1.47 s with four chunks of up to 1,000, 0.90 - 1.04 s with two of up to 500.
CHUNK = 100
MAX_CHUNK = 1000
# PostgreSQL: chunk transactions in flight at once.
PARALLEL_CHUNKS = 2
# While a chunk is being written, another starts only once the earliest deadline due has
# waited this long (or the first chunk is done): deadlines that trickle in gather into
# one transaction rather than taking one each.
GATHER_SECONDS = 0.05


@dataclass(frozen=True)
class DeadlineResult:
    """What a run of chunks (one ``fire_due``) did."""

    flips: list[Flip]
    alerts: list[ClaimedAlert]


class DeadlineWatch:
    """Holds upcoming deadlines and fires them."""

    @property
    def held(self) -> int:
        """How many heap entries are held (a gauge of the watch's memory)."""
        return len(self._heap)

    def __init__(
        self,
        database: Database,
        *,
        base_url: str,
        reload_seconds: float = 5.0,
        on_fired: Callable[[DeadlineResult], None] | None = None,
    ) -> None:
        self.database = database
        self.base_url = base_url
        self.reload_seconds = reload_seconds
        # Called after each committed chunk, with what it did.
        self.on_fired = on_fired
        self._heap: list[tuple[datetime, int]] = []
        self._current: dict[int, datetime] = {}
        # Monitors whose held deadline ends their grace time (they go down then).
        self._ending_grace: set[int] = set()
        self._touched: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _horizon(self) -> datetime:
        """Deadlines up to this moment are held in memory; later ones wait for a reload."""
        return datetime.now(UTC) + timedelta(seconds=self.reload_seconds * 2 + 1)

    def watch(self, monitor_id: int, deadline: datetime | None) -> None:
        """Record that ``monitor_id`` now next changes at ``deadline`` (``None``: never).

        Only deadlines inside the horizon enter the heap: a monitor pinged every second
        with a one-day period would otherwise leave a stale heap entry per ping.
        """
        self._touched.add(monitor_id)
        self._ending_grace.discard(monitor_id)
        if deadline is None or deadline > self._horizon():
            self._current.pop(monitor_id, None)
            return
        if self._current.get(monitor_id) == deadline:
            return
        self._current[monitor_id] = deadline
        heapq.heappush(self._heap, (deadline, monitor_id))
        if self._heap[0] == (deadline, monitor_id):
            self._wake.set()

    def start(self) -> None:
        """Start the watch task."""
        self._task = asyncio.create_task(self._run(), name="tocsin-deadline-watch")

    @property
    def running(self) -> bool:
        """Whether the watch task is alive (started, not stopped and not dead)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop the watch task."""
        await cancel_and_wait(self._task)
        self._task = None

    async def reload(self) -> None:
        """Re-read the deadlines due before the next reload (and a margin) from the database."""
        horizon = self._horizon()
        self._touched.clear()
        async with self.database.read() as conn:
            rows = await deadlines_until(conn, horizon)
        for monitor_id, deadline, in_grace in rows:
            if monitor_id in self._touched:  # a newer value arrived while we read
                continue
            if in_grace:
                self._ending_grace.add(monitor_id)
            else:
                self._ending_grace.discard(monitor_id)
            # One already held needs no second heap entry (it would be popped and dropped).
            if self._current.get(monitor_id) != deadline:
                self._current[monitor_id] = deadline
                heapq.heappush(self._heap, (deadline, monitor_id))
        self._wake.set()

    async def _run(self) -> None:
        await run_due_loop(
            "deadline watch",
            reload=self.reload,
            fire_due=self._fire_running,
            first_due=lambda: self._heap[0][0] if self._heap else None,
            wake=self._wake,
            reload_seconds=self.reload_seconds,
            logger=logger,
        )

    def _pop_due(self, now: datetime, limit: int) -> list[int]:
        """Up to ``limit`` monitors due by ``now``: those going down first, each group in
        deadline order; the others due stay held for the next chunk."""
        due: list[tuple[datetime, int]] = []
        while self._heap and self._heap[0][0] <= now:
            deadline, monitor_id = heapq.heappop(self._heap)
            if self._current.get(monitor_id) == deadline:
                due.append((deadline, monitor_id))
        # The sort is stable: the heap gave them in deadline order.
        due.sort(key=lambda item: item[1] not in self._ending_grace)
        for item in due[limit:]:
            heapq.heappush(self._heap, item)
        taken = [monitor_id for _, monitor_id in due[:limit]]
        for monitor_id in taken:
            del self._current[monitor_id]
        return taken

    def _seconds_to_start(self, now: datetime, writing: bool) -> float | None:
        """How long until a chunk may start in a free slot (``None``: nothing is held).
        With chunks being written (``writing``), the earliest deadline due first waits
        ``GATHER_SECONDS``. The heap's top may be a stale entry: then a chunk starts
        empty-handed, which only drops it."""
        if not self._heap:
            return None
        start = self._heap[0][0] + timedelta(seconds=GATHER_SECONDS if writing else 0)
        return max((start - now).total_seconds(), 0.0)

    async def _fire_running(self, now: datetime) -> DeadlineResult:
        """``fire_due`` with the clock running from ``now``, as the watch's loop fires."""
        started = time.monotonic()
        return await self.fire_due(now, running_clock=lambda: time.monotonic() - started)

    async def fire_due(
        self, now: datetime, *, running_clock: Callable[[], float] | None = None
    ) -> DeadlineResult:
        """Flip the monitors whose deadline passed by ``now``; with ``running_clock``
        (seconds passed since ``now``) also those whose deadline passes while chunks are
        being written. Return when nothing due is left and no chunk is being written, or
        once ``reload_seconds`` have passed (the watch then reloads before going on).

        A chunk starts in each free slot (SQLite 1, PostgreSQL ``PARALLEL_CHUNKS``) with
        the monitors due at that moment, those going down first: the first of a run at
        most ``CHUNK``, each next one twice as many, up to ``MAX_CHUNK`` (on PostgreSQL
        ``MAX_CHUNK`` shared by the slots)."""
        parallel = 1 if self.database.is_sqlite else PARALLEL_CHUNKS
        largest = max(MAX_CHUNK // parallel, 1)
        started = time.monotonic()
        size = min(CHUNK, largest)
        writing: set[asyncio.Task[DeadlineResult]] = set()
        flips: list[Flip] = []
        alerts: list[ClaimedAlert] = []
        failure: BaseException | None = None
        try:
            while True:
                at = now if running_clock is None else now + timedelta(seconds=running_clock())
                starting = failure is None and time.monotonic() - started < self.reload_seconds
                while starting and len(writing) < parallel:
                    wait = self._seconds_to_start(at, bool(writing))
                    if wait is None or wait > 0:
                        break
                    chunk = self._pop_due(at, size)
                    if not chunk:
                        break
                    writing.add(asyncio.create_task(self._fire_chunk(chunk, at)))
                    size = min(size * 2, largest)
                if not writing:
                    break
                timeout = None
                if starting and len(writing) < parallel:
                    timeout = self._seconds_to_start(at, True)
                done, writing = await asyncio.wait(
                    writing, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    error = task.exception()
                    if error is not None:
                        failure = failure or error
                        continue
                    result = task.result()
                    flips += result.flips
                    alerts += result.alerts
        finally:
            # Only when cancelled (or failing) midway: the chunks still being written end too.
            for task in writing:
                task.cancel()
            await asyncio.gather(*writing, return_exceptions=True)
        if failure is not None:
            raise failure
        return DeadlineResult(flips, alerts)

    async def _fire_chunk(self, chunk: list[int], now: datetime) -> DeadlineResult:
        try:
            deadlines, alerts, in_grace, changed = await self.database.run_write(
                self._flip, chunk, now
            )
        except Exception:
            for monitor_id in chunk:  # due again on the next run
                self.watch(monitor_id, now)
            raise
        for monitor_id, deadline in deadlines.items():
            self.watch(monitor_id, deadline)
        self._ending_grace |= {monitor_id for monitor_id in in_grace if monitor_id in self._current}
        result = DeadlineResult([flip for _, flip in changed], alerts)
        # Each chunk's alerts leave as soon as it commits, while other chunks are written.
        if self.on_fired is not None:
            self.on_fired(result)
        # Logged once committed (and after the alerts left), off SQLite's writer thread:
        # a line costs about as much as writing the monitor's new state.
        if changed:
            log_each_or_count(
                logger,
                "monitor flipped monitor=%s old=%s new=%s",
                [(uuid, flip.old_state, flip.new_state) for uuid, flip in changed],
                f"monitors flipped count={len(changed)} "
                + counted(flip.new_state for _, flip in changed),
            )
        return result

    def _flip(
        self, conn: Connection, ids: list[int], now: datetime
    ) -> tuple[dict[int, datetime | None], list[ClaimedAlert], set[int], list[tuple[str, Flip]]]:
        """Flip the monitors ``ids`` due at ``now``: their next deadlines, their alerts,
        those now in grace and each flip with its monitor's uuid."""
        deadlines: dict[int, datetime | None] = {}
        in_grace: set[int] = set()
        updates: list[DeadlineStateRow] = []
        changed: list[tuple[DueMonitor, Flip]] = []
        for monitor in monitors_to_decide(conn, ids):
            transition = on_deadline(monitor.status, monitor.schedule, now)
            status = monitor.status if transition is None else transition.status
            deadlines[monitor.id] = status.next_deadline
            if status.state is MonitorState.GRACE:
                in_grace.add(monitor.id)
            if transition is None:
                continue
            updates.append(DeadlineStateRow(status.state.value, status.next_deadline, monitor.id))
            if transition.flip is not None:
                changed.append((monitor, transition.flip))
        set_deadline_states(conn, updates)
        flip_ids = insert_flips(conn, [(m.id, flip, now) for m, flip in changed])
        # Only flips into or out of down alert; the outbox needs their whole records. A
        # deadline changes only the state: the record's other fields, which the alert
        # shows (last ping), are still true.
        alerting = [
            (monitor, flip, flip_id)
            for (monitor, flip), flip_id in zip(changed, flip_ids, strict=True)
            if flip.alert is not None
        ]
        records = due_records(conn, [monitor for monitor, _, _ in alerting])
        alerts = insert_alerts(
            conn,
            [
                (record, flip, flip_id, now)
                for record, (_, flip, flip_id) in zip(records, alerting, strict=True)
            ],
            self.base_url,
        )
        return deadlines, alerts, in_grace, [(monitor.uuid, flip) for monitor, flip in changed]
