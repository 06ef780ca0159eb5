"""The probe scheduler: runs every monitor's probe on its own grid, within bounded capacity.

- **Spread**: each monitor's runs fall on slots at a fixed phase of its interval (see
  ``slots``), so no herd at ``:00`` and a restart keeps the phase. The grid is placed from
  the wall clock when a job is planned; from then on time is measured on the monotonic
  clock, so a wall-clock step does not move the runs.
- **One timer**: all planned runs sit in one heap; one dispatcher task sleeps until the
  earliest (at least ``DISPATCH_TICK``, so close slots share one wake-up). No task per
  monitor sleeps.
- **Capacity**: at most ``concurrency`` probes run at once overall and ``per_host`` per
  host key (see ``admission``). A run held back by its host never occupies a global
  place that other hosts could use. Waiting runs are deque entries, not tasks: a task is
  created only when a run starts probing.
- **Overdue work is skipped**: a slot whose previous run is still going (probing or
  waiting for capacity) is skipped; a run that waited for capacity longer than an
  interval is skipped when its turn comes; when the dispatcher itself fell more than an
  interval behind, only the latest passed slot runs. Each monitor has at most one run in
  flight, so work never piles up; skips are counted.
- **Results in batches**: outcomes go to ``on_results`` through a ``ResultBatcher``
  (bounded; the oldest outcomes are dropped when the consumer cannot keep up; batches
  start at least ``result_spacing`` seconds apart unless a full one waits).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.server.background import cancel_and_wait
from tocsin.server.probes.admission import Admission, Ticket
from tocsin.server.probes.clock import Clock, SystemClock, WallMapping
from tocsin.server.probes.jobs import Execute, ProbeJob, ProbeOutcome
from tocsin.server.probes.result_batches import OnResults, ResultBatcher
from tocsin.server.probes.scheduler_stats import LatenessHistogram, SchedulerStats
from tocsin.server.probes.slots import catch_up, next_slot

logger = logging.getLogger(__name__)

# The dispatcher sleeps at least this long (seconds) between passes, and each pass starts
# every run that has come due. Without it, thousands of spread-out slots would wake the
# event loop once each, which at 2,000 runs/s cost more CPU than the runs. At 50 ms,
# 10,000 monitors at 60 s (167 runs/s) start about 8 runs per pass and their answers
# arrive together: the server spent 14 - 19 % less CPU per probe than at 5 ms
# (bench/probe_server_cpu.py), and a run starts at most about 50 ms after its slot, a
# twentieth of the shortest interval.
DISPATCH_TICK = 0.05


@dataclass(eq=False)
class _Entry:
    """A scheduled job and its place in time (monotonic seconds)."""

    job: ProbeJob
    interval: float = 0.0  # seconds between runs now (the retry interval while retrying)
    jitter: float = 0.0  # the job's jitter, in seconds
    retrying: bool = False
    generation: int = 0  # heap items of older generations are stale
    slot: float = 0.0  # the next slot of the grid
    due: float = 0.0  # the next planned start: ``slot`` plus this slot's jitter
    last_slot: float | None = None  # the slot of the last run started by the schedule
    run: _Run | None = None  # the run in flight (probing or waiting for a place)

    def retime(self) -> None:
        self.interval = self.job.interval_for(self.retrying).total_seconds()
        self.jitter = self.job.jitter.total_seconds()


class _Run(Ticket):
    """One run of a job, from its slot until its outcome."""

    __slots__ = ("due", "entry", "interval", "job", "on_demand", "task")

    def __init__(self, entry: _Entry, due: float, on_demand: bool) -> None:
        super().__init__(entry.job.host)
        self.entry = entry
        self.job = entry.job
        self.interval = entry.interval
        self.due = due
        self.on_demand = on_demand
        self.task: asyncio.Task[None] | None = None  # once it probes


class ProbeScheduler:
    """Runs ``execute`` for every job at its interval and hands outcomes to ``on_results``.

    Jobs may be added before ``start``; ``upsert``, ``remove`` and ``set_retrying`` take
    effect at once while running. ``on_results`` receives lists of at most ``batch_max``
    outcomes; at most ``result_capacity`` wait for it, beyond that the oldest are dropped.
    """

    def __init__(
        self,
        execute: Execute,
        on_results: OnResults,
        *,
        concurrency: int = 200,
        per_host: int | None = 20,
        batch_max: int = 500,
        result_capacity: int = 10_000,
        result_window: float = 0.01,
        result_spacing: float = 0.0,
        clock: Clock | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._execute = execute
        self._clock: Clock = clock or SystemClock()
        self._wall = WallMapping(self._clock)
        self._rng = rng  # jitter draws, in [0, 1)
        self._admission: Admission[_Run] = Admission(concurrency, per_host)
        self._results = ResultBatcher(
            on_results,
            batch_max=batch_max,
            capacity=result_capacity,
            window=result_window,
            spacing=result_spacing,
        )
        self._entries: dict[int, _Entry] = {}
        # (due, monitor id, generation, entry): the first three are unique, so ties never
        # compare entries.
        self._heap: list[tuple[float, int, int, _Entry]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._probing: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._lateness = LatenessHistogram()
        self._runs = self._skips = self._errors = 0

    @property
    def running(self) -> bool:
        """Whether the dispatcher is alive (started, not stopped and not dead)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start dispatching (inside the event loop)."""
        if self._task is not None:
            raise RuntimeError("the probe scheduler is already running")
        self._stopping = False
        self._results.start()
        self._task = asyncio.create_task(self._dispatch(), name="tocsin-probe-scheduler")
        logger.info("probe scheduler started jobs=%d", len(self._entries))

    async def stop(self) -> None:
        """Stop dispatching, cancel the runs in flight (they produce no outcome) and hand
        every outcome already queued to ``on_results``."""
        if self._task is None:
            return
        await cancel_and_wait(self._task)
        self._task = None
        self._stopping = True  # a run ending now starts no other
        tasks = list(self._probing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for entry in self._entries.values():
            entry.run = None
        self._admission = Admission(self._admission.concurrency, self._admission.per_host)
        await self._results.close()
        logger.info("probe scheduler stopped jobs=%d", len(self._entries))

    def upsert(self, job: ProbeJob) -> None:
        """Schedule ``job``, or replace the job of its monitor.

        A new job runs at its first slot from now. A changed interval or jitter moves the
        job to its new grid, at least one interval after its last run; any other change
        keeps the planned time. A run in flight finishes with the job it started with.
        """
        entry = self._entries.get(job.monitor_id)
        if entry is None:
            self._entries[job.monitor_id] = entry = _Entry(job)
            entry.retime()
            self._plan(entry)
            return
        before = (entry.interval, entry.job.jitter)
        entry.job = job
        entry.retime()
        if (entry.interval, job.jitter) != before:
            self._plan(entry)

    def remove(self, monitor_id: int) -> None:
        """Stop scheduling a monitor and cancel its run in flight (no outcome comes)."""
        entry = self._entries.pop(monitor_id, None)
        if entry is None:
            return
        entry.generation += 1
        run = entry.run
        if run is not None:
            if run.task is not None:
                run.task.cancel()
            else:
                self._admission.cancel(run)

    def set_retrying(self, monitor_id: int, retrying: bool) -> None:
        """Switch a monitor to its retry interval (failing, not yet down) or back.

        The next run moves to the new interval's grid, at least one new interval after the
        last run. Unknown monitors are ignored (a result may arrive after a removal).
        """
        entry = self._entries.get(monitor_id)
        if entry is None or entry.retrying == retrying:
            return
        before = entry.interval
        entry.retrying = retrying
        entry.retime()
        if entry.interval != before:
            self._plan(entry)

    def run_now(self, monitor_id: int) -> bool:
        """Run a monitor's probe at once, outside its schedule (which stays as it was).

        Returns ``False`` when a run of the monitor is already in flight. Raises
        ``KeyError`` for an unknown monitor and ``RuntimeError`` when not running.
        """
        entry = self._entries[monitor_id]
        if not self.running:
            raise RuntimeError("the probe scheduler is not running")
        if entry.run is not None:
            return False
        self._spawn(entry, self._clock.monotonic(), on_demand=True)
        return True

    def next_run(self, monitor_id: int) -> datetime | None:
        """When the monitor's next scheduled run is planned (UTC); ``None`` if unknown."""
        entry = self._entries.get(monitor_id)
        if entry is None:
            return None
        return self._wall.at(entry.due)

    def stats(self) -> SchedulerStats:
        """The counters and gauges, for metrics."""
        return SchedulerStats(
            jobs=len(self._entries),
            probing=len(self._probing),
            waiting=self._admission.waiting,
            queued_results=self._results.queued,
            runs=self._runs,
            skips=self._skips,
            errors=self._errors,
            batches=self._results.batches,
            write_errors=self._results.write_errors,
            dropped_results=self._results.dropped,
            lateness=self._lateness.snapshot(),
        )

    def _plan(self, entry: _Entry) -> None:
        """Place ``entry`` on its current interval's grid, from the wall clock."""
        offset = self._wall.offset()
        interval = entry.interval
        earliest = self._clock.monotonic()
        if entry.last_slot is not None:
            earliest = max(earliest, entry.last_slot + interval)
        entry.slot = next_slot(entry.job.monitor_id, interval, offset + earliest) - offset
        self._push(entry)

    def _push(self, entry: _Entry) -> None:
        """Queue ``entry``'s next slot (with a fresh jitter draw); older items go stale."""
        entry.generation += 1
        entry.due = entry.slot + (entry.jitter * self._rng() if entry.jitter else 0.0)
        item = (entry.due, entry.job.monitor_id, entry.generation, entry)
        heapq.heappush(self._heap, item)
        if self._heap[0] is item:
            self._wake.set()

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        heap = self._heap
        while True:
            now = self._clock.monotonic()
            while heap and heap[0][0] <= now:
                _, _, generation, entry = heapq.heappop(heap)
                if generation == entry.generation:
                    self._slot_reached(entry, now)
            self._wake.clear()
            delay = max(heap[0][0] - now, DISPATCH_TICK) if heap else None
            timer = loop.call_later(delay, self._wake.set) if delay is not None else None
            try:
                await self._wake.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def _slot_reached(self, entry: _Entry, now: float) -> None:
        interval = entry.interval
        slot, due = entry.slot, entry.due
        if now - due >= interval:  # the dispatcher fell behind: run the latest slot only
            jitter = due - slot
            slot, missed = catch_up(slot, now - jitter, interval)
            due = slot + jitter
            self._skips += missed
        entry.slot = slot + interval
        self._push(entry)
        if entry.run is not None:  # the previous run is still going
            self._skips += 1
            return
        entry.last_slot = slot
        self._spawn(entry, due, on_demand=False)

    def _spawn(self, entry: _Entry, due: float, *, on_demand: bool) -> None:
        run = entry.run = _Run(entry, due, on_demand)
        if self._admission.offer(run):
            self._start(run)

    def _start(self, run: _Run) -> None:
        task = run.task = asyncio.create_task(self._run(run))
        self._probing.add(task)
        task.add_done_callback(self._probing.discard)

    def _finish(self, run: _Run) -> None:
        """Free ``run``'s places and start the runs waiting for them.

        A waiting run whose slot is more than an interval ago is overdue: it is skipped
        (its monitor runs at its next slot) rather than started, so an overloaded
        scheduler drops work instead of running ever later.
        """
        if run.entry.run is run:
            run.entry.run = None
        if self._stopping:
            return
        ready = self._admission.release(run)
        now = self._clock.monotonic()
        while ready:
            waiting = ready.pop(0)
            if waiting.on_demand or now - waiting.due < waiting.interval:
                self._start(waiting)
                continue
            self._skips += 1
            if waiting.entry.run is waiting:
                waiting.entry.run = None
            ready.extend(self._admission.release(waiting))

    async def _run(self, run: _Run) -> None:
        job = run.job
        started = self._clock.monotonic()
        # On the kept mapping, so the slots of runs one interval apart are that far apart.
        started_at = self._wall.at(started)
        lateness = max(0.0, started - run.due)
        try:
            observation = await self._execute(job, started_at)
        except Exception:  # a bug in the execute function; targets report failures as data
            self._errors += 1
            logger.exception("probe raised monitor_id=%d", job.monitor_id)
            return
        finally:
            self._finish(run)
        on_demand = run.on_demand
        self._runs += 1
        self._lateness.observe(lateness)
        late = timedelta(seconds=lateness)
        self._results.put(
            ProbeOutcome(job, observation, started_at - late, started_at, late, on_demand)
        )
