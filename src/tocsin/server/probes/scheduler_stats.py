"""Counters the probe scheduler keeps for metrics: runs, skips, lateness buckets."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

# Upper bounds (seconds) of the lateness buckets; the last bucket is everything above.
LATENESS_BOUNDS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class LatenessSnapshot:
    """How late runs started (actual start - scheduled start), in seconds.

    ``counts[i]`` is the number of runs with lateness ≤ ``bounds[i]`` and above the
    previous bound (not cumulative); ``counts[-1]`` is everything above the last bound.
    """

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: int
    sum_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class SchedulerStats:
    """A snapshot of the scheduler's counters (monotonic since ``start``, except gauges).

    - ``jobs``, ``probing``, ``waiting``, ``queued_results``: gauges (jobs scheduled, runs
      probing now, runs waiting for a global or per-host slot, outcomes not yet handed to
      ``on_results``).
    - ``runs``: finished runs; ``skips``: slots not run because the previous run was still
      going or the scheduler fell more than an interval behind; ``errors``: runs whose
      execute function raised (a bug: targets report failures as data).
    - ``batches``: calls of ``on_results``; ``write_errors``: calls that raised (their
      outcomes are lost); ``dropped_results``: outcomes discarded because the result
      queue was full.
    """

    jobs: int
    probing: int
    waiting: int
    queued_results: int
    runs: int
    skips: int
    errors: int
    batches: int
    write_errors: int
    dropped_results: int
    lateness: LatenessSnapshot


class LatenessHistogram:
    """Fixed buckets of run lateness, cheap to update on every run."""

    def __init__(self, bounds: tuple[float, ...] = LATENESS_BOUNDS) -> None:
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)
        self._sum = 0.0
        self._max = 0.0

    def observe(self, seconds: float) -> None:
        """Count one run that started ``seconds`` after its slot."""
        self._counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self._sum += seconds
        self._max = max(self._max, seconds)

    def snapshot(self) -> LatenessSnapshot:
        """The buckets as they are now."""
        return LatenessSnapshot(
            bounds=self.bounds,
            counts=tuple(self._counts),
            total=sum(self._counts),
            sum_seconds=self._sum,
            max_seconds=self._max,
        )
