"""The clocks the probe scheduler reads, behind one small interface tests can replace."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Where the scheduler reads time: UTC for timestamps and phases, monotonic for
    durations and sleeping."""

    def now(self) -> datetime:
        """The current UTC time (aware)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (only differences matter)."""


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        """``datetime.now(UTC)``."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


# A fresh reading further than this from the kept offset is a step of the wall clock.
WALL_STEP_SECONDS = 0.1


class WallMapping:
    """Monotonic instants as UTC seconds, through one kept offset.

    Reading both clocks afresh for each conversion puts whatever passed between the two
    reads (a preempted thread: milliseconds) into the result, so two slots exactly one
    interval apart came out a few milliseconds more or less apart. The offset is kept
    until a fresh reading differs by more than ``WALL_STEP_SECONDS`` (the wall clock was
    stepped), then taken from that reading.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._offset: float | None = None

    def offset(self) -> float:
        """UTC seconds minus monotonic seconds, as kept (renewed after a step)."""
        mono = self._clock.monotonic()
        fresh = self._clock.now().timestamp() - mono
        if self._offset is None or abs(fresh - self._offset) > WALL_STEP_SECONDS:
            self._offset = fresh
        return self._offset

    def at(self, mono: float) -> datetime:
        """The UTC time of the monotonic instant ``mono``."""
        return datetime.fromtimestamp(self.offset() + mono, UTC)
