"""Warn and fail levels for a measured number.

``Threshold(warn=100, fail=1000)`` judges a value that is bad when high (queue depth,
job age); ``Threshold(warn=2, fail=1, below=True)`` one that is bad when low (workers).
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.health.model import Status


@dataclass(frozen=True, slots=True)
class Threshold:
    """Levels at which a value turns ``warn`` and ``fail``; ``None`` disables a level.

    By default a value at or above a level trips it; with ``below=True`` a value at or
    below it does.
    """

    warn: float | None = None
    fail: float | None = None
    below: bool = False

    def judge(self, value: float | None) -> Status:
        """The status of ``value``; an unknown value (``None``) passes."""
        if value is None:
            return Status.PASS
        if self.fail is not None and self._trips(value, self.fail):
            return Status.FAIL
        if self.warn is not None and self._trips(value, self.warn):
            return Status.WARN
        return Status.PASS

    def _trips(self, value: float, level: float) -> bool:
        return value <= level if self.below else value >= level

    def describe(self, value: float | None, unit: str = "") -> str:
        """Why ``value`` has its status, e.g. ``"120 s >= warn 60"``; empty when passing."""
        status = self.judge(value)
        if status is Status.PASS or value is None:
            return ""
        level = self.fail if status is Status.FAIL else self.warn
        op = "<=" if self.below else ">="
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        suffix = f" {unit}" if unit else ""
        return f"{shown}{suffix} {op} {status.value} level {level:g}"


NEVER = Threshold()
"""A threshold that never trips: the value is reported for information only."""


def above(warn: float | None = None, fail: float | None = None) -> Threshold:
    """A threshold for values that are bad when high."""
    return Threshold(warn=warn, fail=fail)


def below(warn: float | None = None, fail: float | None = None) -> Threshold:
    """A threshold for values that are bad when low."""
    return Threshold(warn=warn, fail=fail, below=True)
