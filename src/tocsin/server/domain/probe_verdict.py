"""Judging one probe's observation, and saying in one line what broke (or recovered).

The same judgement serves ``tocsin check`` and the probe engine, so a check that passes
on the command line passes as a monitor: no answer fails; otherwise the worst of the
assertions and, for ``app`` monitors, of the health report's components (a 503 with a
valid report is judged by its components).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tocsin.health.model import Status
from tocsin.server.domain.assertion_model import format_ms
from tocsin.server.domain.assertions import (
    Assertion,
    AssertionOutcome,
    evaluate,
    failed_messages,
    parse_assertion,
    verdict,
)
from tocsin.server.domain.component_thresholds import ComponentRule
from tocsin.server.domain.health_report import HealthReading, read_health_report
from tocsin.server.domain.observations import FailureKind, Observation
from tocsin.server.domain.probe_spec import DEFAULT_HTTP_ASSERTION
from tocsin.server.domain.states import MonitorKind

_DEFAULT = (parse_assertion(DEFAULT_HTTP_ASSERTION),)


@dataclass(frozen=True)
class Judgement:
    """One observation judged: the verdict, each assertion's outcome, the app reading."""

    kind: MonitorKind
    observation: Observation
    verdict: Status
    outcomes: tuple[AssertionOutcome, ...]
    reading: HealthReading | None
    defaulted: bool  # the outcomes are the default assertion's, not the user's

    @property
    def failure(self) -> FailureKind | None:
        """Why there was no usable answer: the probe's failure, else (``app`` monitors)
        the health reading's, for an answer that is not a whole report."""
        if self.observation.failure is not None or self.reading is None:
            return self.observation.failure
        return self.reading.failure

    @property
    def error(self) -> str | None:
        """The one-line reason that goes with ``failure``."""
        if self.observation.failure is not None or self.reading is None:
            return self.observation.error
        return self.reading.error if self.reading.failure is not None else None

    @property
    def problems(self) -> list[str]:
        """What failed or warned, worst first: ``status (503) == 200``,
        ``rq:workers[emails] = 0 (< 1)``, or why there was no answer."""
        seen = self.observation
        if seen.failure is not None and self.reading is None:
            return [f"{seen.failure}: {seen.error}" if seen.error else str(seen.failure)]
        found: list[str] = []
        reading = self.reading
        if reading is not None:
            if reading.failure is not None:
                found.append(reading.summary)
            else:
                bad = sorted(
                    (c for c in reading.components if c.status is not Status.PASS),
                    key=lambda c: c.status is not Status.FAIL,
                )
                found.extend(c.message for c in bad)
                if not reading.components and reading.verdict is not Status.PASS:
                    found.append(reading.summary)
        found.extend(failed_messages(self.outcomes))
        return found

    @property
    def summary(self) -> str:
        """One line: the problems and the response time (``status (503) == 200 ·
        response_time 812ms``); what passed when nothing is wrong."""
        parts = self.problems
        if not parts:
            parts = [self._passing()]
        total = self.observation.timings.total_ms
        if total is not None and self.observation.failure is None:
            parts.append(f"response_time {format_ms(round(total, 1))}")
        return " · ".join(parts)

    def _passing(self) -> str:
        if self.reading is not None:
            return self.reading.summary
        if self.kind is MonitorKind.TCP:
            return "connected"
        return " · ".join(o.message for o in self.outcomes) or "answered"

    def details(self) -> dict[str, Any]:
        """What an alert carries about the result (``"probe"`` in its payload)."""
        seen = self.observation
        data: dict[str, Any] = {
            "verdict": self.verdict.value,
            "summary": self.summary,
            "url": seen.url,
            "status_code": seen.status,
            "total_ms": seen.timings.total_ms,
            "failure": self.failure.value if self.failure else None,
            "error": self.error,
            "failed": [o.to_json() for o in self.outcomes if not o.passed],
        }
        if self.reading is not None:
            data["components"] = [
                c.to_json() for c in self.reading.components if c.status is not Status.PASS
            ]
        return data


def judge_probe(
    kind: MonitorKind,
    observation: Observation,
    now: datetime,
    assertions: Sequence[Assertion] = (),
    rules: Mapping[str, ComponentRule] | None = None,
) -> Judgement:
    """Judge ``observation`` for a monitor of ``kind`` (``http`` without assertions checks
    ``status == 2xx``)."""
    defaulted = not assertions and kind is MonitorKind.HTTP
    chosen = _DEFAULT if defaulted else tuple(assertions)
    outcomes = tuple(evaluate(chosen, observation, now))
    reading = read_health_report(observation, rules) if kind is MonitorKind.APP else None
    levels = [verdict(outcomes)]
    if reading is not None:
        levels.append(reading.verdict)
    if observation.failure is not None:
        levels.append(Status.FAIL)
    return Judgement(kind, observation, Status.worst(levels), outcomes, reading, defaulted)


def config_failure(url: str, now: datetime, problems: Sequence[str]) -> Observation:
    """The observation of a probe that could not start: its settings are unusable."""
    return Observation(url, now, failure=FailureKind.CONFIG, error="; ".join(problems))
