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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tocsin.health.check import DEFAULT_TIMEOUT, Check, CheckFunction, FunctionCheck
from tocsin.health.model import HealthReport, Measurement, Status

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


class HealthChecker:
    """Holds checks and runs them; :meth:`run` returns a (possibly cached) report.

    ``checks`` is kept by reference, so checks appended to that list later are run too.
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
        self._cached: HealthReport | None = None
        self._cached_at = 0.0
        self._flight: _Flight | None = None
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

    def cached(self) -> HealthReport | None:
        """The cached report if it is younger than ``ttl``, else None."""
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached_at < self.ttl:
                return self._cached
        return None

    def run(self, *, fresh: bool = False) -> HealthReport:
        """The report: from the cache if younger than ``ttl``, else from one shared run."""
        with self._lock:
            cached = self._cached
            if not fresh and cached is not None and time.monotonic() - self._cached_at < self.ttl:
                return cached
            flight = self._flight
            leader = flight is None
            if flight is None:
                flight = self._flight = _Flight()
        if not leader:
            flight.done.wait(self.budget + 1.0)
            if flight.report is not None:
                return flight.report
            return self._error_report("health run did not finish within the budget")
        report: HealthReport | None = None
        try:
            report = self._execute()
        except Exception as exc:  # a bug here must not become a 500
            logger.exception("health run crashed error=%s", exc)
            report = self._error_report(f"health run crashed: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                if report is not None:
                    self._cached, self._cached_at = report, time.monotonic()
                self._flight = None
            flight.report = report
            flight.done.set()
        return report

    async def arun(self, *, fresh: bool = False) -> HealthReport:
        """:meth:`run` for async apps: waits in a worker thread, never blocks the loop."""
        if not fresh:
            cached = self.cached()
            if cached is not None:
                return cached
        return await asyncio.to_thread(self.run, fresh=fresh)

    def _execute(self) -> HealthReport:
        start = time.monotonic()
        deadline = start + self.budget
        jobs: list[tuple[Check, _Job | None, list[Measurement] | None]] = []
        for check in list(self.checks):
            previous = self._running.get(id(check))
            if previous is not None and not previous.done.is_set():
                hung = time.monotonic() - previous.started
                jobs.append(
                    (check, None, check.errored(f"previous run still hung after {hung:.1f} s"))
                )
                continue
            job = _Job(check, time.monotonic())
            self._running[id(check)] = job
            self._pool.submit(job)
            jobs.append((check, job, None))
        measurements: list[Measurement] = []
        for check, pending, ready in jobs:
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
            measurements.extend(_apply_criticality(check, results))
        return HealthReport(tuple(measurements), duration=time.monotonic() - start)

    def _error_report(self, output: str) -> HealthReport:
        measurements = [m for check in self.checks for m in check.errored(output)]
        if not measurements:
            measurements = [Measurement("tocsin", "health", Status.FAIL, output=output)]
        return HealthReport(tuple(measurements), duration=0.0)


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
