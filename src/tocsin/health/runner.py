"""Run checks concurrently, each with its own timeout, inside an overall budget.

Every check runs in a reused daemon thread (no signals, so it works in any thread of
any server, gunicorn gthread included). The caller waits at most the budget; a check
still running then is reported ``fail`` with "timed out after N s" and left to
finish in the background. A check whose previous run is still hung is not started
again, so a dead dependency costs one thread, not one per request.

Results are cached for ``ttl`` seconds, and concurrent callers share one run
(single-flight), so a flood of ``/healthz`` requests costs one run per ``ttl``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tocsin.health.check import DEFAULT_TIMEOUT, Check, CheckFunction, FunctionCheck
from tocsin.health.model import HealthReport, Measurement, Status
from tocsin.health.selection import Selection, select

logger = logging.getLogger(__name__)

DEFAULT_TTL = 5.0
DEFAULT_BUDGET = 5.0


@dataclass(slots=True)
class _Job:
    """One check's run in a thread."""

    check: Check
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Measurement] | None = None


@dataclass(slots=True)
class _Flight:
    """A run other callers can wait for."""

    done: threading.Event = field(default_factory=threading.Event)
    report: HealthReport | None = None


@dataclass(frozen=True, slots=True)
class _Result:
    """A finished run: its report, each check's measurements (by index) and when it ended."""

    report: HealthReport
    parts: dict[int, list[Measurement]]
    at: float


MAX_CACHED_SELECTIONS = 64
"""Subsets cached at most; the oldest is dropped first (a client looping over subsets
costs runs, never memory)."""


class HealthChecker:
    """Holds checks and runs them; :meth:`run` returns a (possibly cached) report.

    ``checks`` is kept by reference, so checks appended to that list later are run too.
    A run may be limited to a :class:`~tocsin.health.selection.Selection` (see
    :meth:`select`): only those checks run, and each subset is cached on its own; while
    the full report is fresh, a subset is cut out of it without running anything.
    """

    def __init__(
        self,
        checks: list[Check] | None = None,
        *,
        ttl: float = DEFAULT_TTL,
        budget: float = DEFAULT_BUDGET,
    ) -> None:
        if ttl < 0 or budget <= 0:
            raise ValueError("ttl must be >= 0 and budget > 0")
        self.checks: list[Check] = checks if checks is not None else []
        self.ttl = ttl
        self.budget = budget
        self._lock = threading.Lock()
        self._results: dict[Selection | None, _Result] = {}
        self._flights: dict[Selection | None, _Flight] = {}
        self._selections: dict[tuple[tuple[str, ...], tuple[str, ...], int], Selection] = {}
        self._running: dict[int, _Job] = {}
        self._pool = _DaemonPool()

    def add(self, check: Check) -> Check:
        """Add ``check``; returns it."""
        self.checks.append(check)
        return check

    def check(
        self,
        name: str | None = None,
        *,
        critical: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> Callable[[CheckFunction], CheckFunction]:
        """Decorator: register a function as a check (see :class:`FunctionCheck`)."""

        def register(function: CheckFunction) -> CheckFunction:
            self.add(
                FunctionCheck(
                    function, component=name, critical=critical, timeout=timeout, **options
                )
            )
            return function

        return register

    def select(self, patterns: Sequence[str] = (), tags: Sequence[str] = ()) -> Selection:
        """The checks ``patterns`` and ``tags`` pick (remembered); raises ``UnknownSelection``."""
        key = (tuple(patterns), tuple(tags), len(self.checks))
        with self._lock:
            known = self._selections.get(key)
        if known is not None:
            return known
        selection = select(self.checks, patterns, tags)
        with self._lock:
            _bounded_put(self._selections, key, selection)
        return selection

    def cached(self, selection: Selection | None = None) -> HealthReport | None:
        """The cached report (of ``selection``) if it is younger than ``ttl``, else None."""
        with self._lock:
            return self._fresh(selection)

    def _fresh(self, selection: Selection | None) -> HealthReport | None:
        """The fresh cached report of ``selection``; the caller holds the lock."""
        now = time.monotonic()
        result = self._results.get(selection)
        if result is not None and now - result.at < self.ttl:
            return result.report
        if selection is not None:
            full = self._results.get(None)
            if full is not None and now - full.at < self.ttl:
                cut = _cut(full, selection)
                # Cached under the subset, as old as the full run: cut once, not per request.
                _bounded_put(self._results, selection, _Result(cut, {}, full.at))
                return cut
        return None

    def run(self, *, fresh: bool = False, selection: Selection | None = None) -> HealthReport:
        """The report: from the cache if younger than ``ttl``, else from one shared run.

        With ``selection``, only the selected checks run and are reported.
        """
        with self._lock:
            cached = None if fresh else self._fresh(selection)
            if cached is not None:
                return cached
            flight = self._flights.get(selection)
            leader = flight is None
            if flight is None:
                flight = self._flights[selection] = _Flight()
        if not leader:
            flight.done.wait(self.budget + 1.0)
            if flight.report is not None:
                return flight.report
            return self._error_report("health run did not finish within the budget", selection)
        result: _Result | None = None
        report: HealthReport | None = None
        try:
            result = self._execute(selection)
            report = result.report
        except Exception as exc:  # a bug here must not become a 500
            logger.exception("health run crashed error=%s", exc)
            output = f"health run crashed: {type(exc).__name__}: {exc}"
            report = self._error_report(output, selection)
        finally:
            with self._lock:
                if result is not None:
                    _bounded_put(self._results, selection, result)
                del self._flights[selection]
            flight.report = report
            flight.done.set()
        return report

    async def arun(
        self, *, fresh: bool = False, selection: Selection | None = None
    ) -> HealthReport:
        """:meth:`run` for async apps: waits in a worker thread, never blocks the loop."""
        if not fresh:
            cached = self.cached(selection)
            if cached is not None:
                return cached
        return await asyncio.to_thread(self.run, fresh=fresh, selection=selection)

    def _execute(self, selection: Selection | None) -> _Result:
        start = time.monotonic()
        deadline = start + self.budget
        indexed = _indexed(self.checks, selection)
        jobs: list[tuple[int, Check, _Job | None, list[Measurement] | None]] = []
        for index, check in indexed:
            with self._lock:
                previous = self._running.get(id(check))
                running = previous is not None and not previous.done.is_set()
                if not running:
                    job = self._running[id(check)] = _Job(check, time.monotonic())
            if previous is not None and running:
                since = time.monotonic() - previous.started
                if since < check.timeout:
                    # Another subset's run started it moments ago: share its result.
                    jobs.append((index, check, previous, None))
                    continue
                output = f"previous run still hung after {since:.1f} s"
                jobs.append((index, check, None, check.errored(output)))
                continue
            self._pool.submit(job)
            jobs.append((index, check, job, None))
        parts: dict[int, list[Measurement]] = {}
        for index, check, pending, ready in jobs:
            if pending is None:
                results = ready or []
            else:
                limit = min(pending.started + check.timeout, deadline)
                pending.done.wait(max(0.0, limit - time.monotonic()))
                if pending.done.is_set() and pending.result is not None:
                    results = pending.result
                else:
                    waited = min(check.timeout, self.budget)
                    logger.warning(
                        "health check timed out check=%s after=%.1fs", check.name, waited
                    )
                    results = check.errored(f"timed out after {waited:.1f} s")
            results = _apply_criticality(check, results)
            parts[index] = selection.keep(index, results) if selection is not None else results
        measurements = tuple(m for part in parts.values() for m in part)
        report = HealthReport(measurements, duration=time.monotonic() - start)
        return _Result(report, parts, time.monotonic())

    def _error_report(self, output: str, selection: Selection | None = None) -> HealthReport:
        measurements = []
        for index, check in _indexed(self.checks, selection):
            errored = check.errored(output)
            measurements.extend(errored if selection is None else selection.keep(index, errored))
        if not measurements:
            measurements = [Measurement("tocsin", "health", Status.FAIL, output=output)]
        return HealthReport(tuple(measurements), duration=0.0)


def _indexed(checks: list[Check], selection: Selection | None) -> list[tuple[int, Check]]:
    """``(index, check)`` of the checks a run covers."""
    current = list(checks)
    if selection is None:
        return list(enumerate(current))
    return [(i, current[i]) for i, _ in selection.picks if i < len(current)]


def _cut(full: _Result, selection: Selection) -> HealthReport:
    """The subset ``selection`` of a full run, without running anything."""
    measurements = tuple(
        m for index, _ in selection.picks for m in selection.keep(index, full.parts.get(index, []))
    )
    return HealthReport(measurements, duration=full.report.duration, time=full.report.time)


def _bounded_put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """``cache[key] = value``, dropping the oldest subsets past :data:`MAX_CACHED_SELECTIONS`.

    The entry of the full report (key ``None``) is never dropped.
    """
    cache.pop(key, None)
    cache[key] = value
    if len(cache) > MAX_CACHED_SELECTIONS + 1:
        del cache[next(k for k in cache if k is not None)]


class _DaemonPool:
    """Reusable daemon threads: one per job in flight, started only when none is idle.

    Daemon threads (unlike ``concurrent.futures``' workers, which are joined at exit)
    never hold up the process's shutdown behind a hung check. A hung check holds at most
    one thread, because the runner does not resubmit it while it is hung.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0

    def submit(self, job: _Job) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                self._count += 1
                name = f"tocsin-check-{self._count}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            _run_job(self._jobs.get())
            with self._lock:
                self._idle += 1


def _run_job(job: _Job) -> None:
    try:
        job.result = job.check.collect()
    except Exception as exc:
        logger.warning("health check failed check=%s error=%s", job.check.name, exc)
        job.result = job.check.errored(f"{type(exc).__name__}: {exc}")
    finally:
        job.done.set()


def _apply_criticality(check: Check, results: list[Measurement]) -> list[Measurement]:
    """A non-critical check's ``fail`` is reported as ``warn``."""
    if check.critical:
        return results
    out = []
    for m in results:
        if m.status is Status.FAIL:
            note = f"non-critical: {m.output}" if m.output else "non-critical"
            m = Measurement(
                m.component,
                m.name,
                Status.WARN,
                m.component_id,
                m.component_type,
                m.observed_value,
                m.observed_unit,
                note,
                m.time,
            )
        out.append(m)
    return out
