"""The data a health run produces: statuses, measurements and the report.

The shape follows the IETF draft "Health Check Response Format for HTTP APIs"
(``application/health+json``): a top-level ``status`` and ``checks`` keyed
``component:measurement``, each holding a list of entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MEDIA_TYPE = "application/health+json"


class Status(StrEnum):
    """A health status, ordered ``pass < warn < fail``."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """0 for pass, 1 for warn, 2 for fail."""
        return _RANK[self]

    @classmethod
    def worst(cls, statuses: Iterable[Status]) -> Status:
        """The worst of ``statuses``; ``pass`` for none."""
        return max(statuses, key=lambda s: s.rank, default=cls.PASS)


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def utcnow() -> dt.datetime:
    """The current time, UTC and timezone-aware."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One observed value of one component, e.g. the depth of the ``emails`` queue.

    ``component`` and ``name`` form the report key ``component:name``
    (``rq:queue_depth``); ``component_id`` names the instance (the queue).
    """

    component: str
    name: str
    status: Status
    component_id: str | None = None
    component_type: str | None = None
    observed_value: Any = None
    observed_unit: str | None = None
    output: str = ""
    time: dt.datetime = field(default_factory=utcnow)

    @property
    def key(self) -> str:
        """The report key, ``component:measurement``."""
        return f"{self.component}:{self.name}"

    def to_json(self) -> dict[str, Any]:
        """This entry as health+json."""
        entry: dict[str, Any] = {
            "componentId": self.component_id,
            "componentType": self.component_type,
            "observedValue": self.observed_value,
            "observedUnit": self.observed_unit,
            "status": self.status.value,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "output": self.output,
        }
        return entry


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The outcome of one health run: every measurement and the overall status."""

    measurements: tuple[Measurement, ...]
    duration: float
    time: dt.datetime = field(default_factory=utcnow)

    @property
    def status(self) -> Status:
        """The worst status of all measurements (``pass`` when there are none)."""
        return Status.worst(m.status for m in self.measurements)

    @property
    def http_status(self) -> int:
        """503 for ``fail``, 200 otherwise (the draft asks 2xx for pass and warn)."""
        return 503 if self.status is Status.FAIL else 200

    def failing(self) -> list[str]:
        """Keys of the measurements that are not ``pass``."""
        return sorted({m.key for m in self.measurements if m.status is not Status.PASS})

    def to_json(self, **extra: Any) -> dict[str, Any]:
        """The report as health+json; ``extra`` adds top-level fields (``version``...)."""
        checks: dict[str, list[dict[str, Any]]] = {}
        for m in self.measurements:
            checks.setdefault(m.key, []).append(m.to_json())
        body: dict[str, Any] = {"status": self.status.value}
        body.update({k: v for k, v in extra.items() if v is not None})
        failing = self.failing()
        if failing:
            body["output"] = "not passing: " + ", ".join(failing)
        body["checks"] = checks
        return body
