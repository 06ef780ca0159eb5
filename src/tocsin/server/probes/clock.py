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
