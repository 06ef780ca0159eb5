"""Free disk space on the file system holding a path (standard library only)."""

from __future__ import annotations

import shutil
from typing import Any

from tocsin.health.check import Check
from tocsin.health.model import Measurement
from tocsin.health.thresholds import Threshold, below

LOW_SPACE = below(warn=10, fail=5)


class DiskCheck(Check):
    """``disk:free_percent``: percent free, by default warn at 10 % and fail at 5 %."""

    def __init__(self, path: str = "/", *, free: Threshold = LOW_SPACE, **options: Any) -> None:
        options.setdefault("component_id", path)
        super().__init__(
            component="disk", measurements=["free_percent"], component_type="system", **options
        )
        self.path = path
        self.free = free

    def collect(self) -> list[Measurement]:
        """Read the file system's usage."""
        usage = shutil.disk_usage(self.path)
        percent = round(100.0 * usage.free / usage.total, 2) if usage.total else 0.0
        output = f"{usage.free / 2**30:.1f} GiB free of {usage.total / 2**30:.1f} GiB"
        return [self.measure("free_percent", percent, unit="%", threshold=self.free, output=output)]
