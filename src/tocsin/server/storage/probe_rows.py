"""Plain records of probed monitors as stored: results, component states, hourly aggregates.

The probe engine writes ``probe_results``, ``component_states`` and a monitor's streaks;
``storage.result_rollup`` writes ``result_hours``; ``storage.probe_reads`` reads them all
into these records (their JSON shape is in ``storage.shapes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from tocsin.health.model import Status
from tocsin.server.domain.assertion_eval import AssertionOutcome
from tocsin.server.domain.health_report import ComponentReading

_STATUSES = {status.value: status for status in Status}


def status_of(value: str) -> Status:
    """The ``Status`` stored as ``value`` (``pass``, ``warn``, ``fail``)."""
    return _STATUSES[value]


@dataclass(frozen=True)
class ResultRecord:
    """One stored probe result: the verdict and everything that explains it (read by
    ``storage.result_codec.decode_result``)."""

    id: int
    monitor_id: int
    scheduled_at: datetime
    started_at: datetime
    verdict: Status
    failure: str | None
    error: str | None
    status_code: int | None
    total_ms: float | None
    timings: Mapping[str, Any]
    outcomes: tuple[AssertionOutcome, ...]
    components: tuple[ComponentReading, ...]


@dataclass(frozen=True)
class ComponentStateRecord:
    """The current state of one component of an ``app`` monitor."""

    key: str
    status: Status
    value: Any
    unit: str | None
    message: str | None
    changed_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> ComponentStateRecord:
        """Build a record from a ``component_states`` row."""
        return cls(
            key=row["key"],
            status=status_of(row["status"]),
            value=row["value"],
            unit=row["unit"],
            message=row["message"],
            changed_at=row["changed_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True)
class HourRecord:
    """One hour's aggregate of a monitor (``component_key`` empty) or of one component."""

    component_key: str
    hour: datetime
    count: int
    failures: int
    warnings: int
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_max: float | None = None
    value_min: float | None = None
    value_max: float | None = None
    value_last: float | None = None


@dataclass(frozen=True)
class ProbeView:
    """What a probed monitor shows beyond its own row: its newest result and the current
    states of its components (``app`` monitors)."""

    last_result: ResultRecord | None = None
    components: tuple[ComponentStateRecord, ...] = ()


@dataclass(frozen=True)
class Tally:
    """Checks, failures and warnings counted over a window; ``warn`` counts as up."""

    count: int = 0
    failures: int = 0
    warnings: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.count + other.count,
            self.failures + other.failures,
            self.warnings + other.warnings,
        )

    @property
    def uptime_percent(self) -> float | None:
        """``100 * (1 - failures / count)``; ``None`` when nothing was checked."""
        if self.count == 0:
            return None
        return 100.0 * (1.0 - self.failures / self.count)
