"""Confirmation: a probed monitor goes down after N failing checks in a row, up after M
passing ones, so a single blip pages nobody.

Verdicts are ``pass``, ``warn`` and ``fail``; ``warn`` counts as a pass (the monitor stays
or comes up) and stays visible as the state's last ``verdict``. A ``new`` monitor comes up
on its first passing check (there is nothing to recover from) and goes down only after
N failures, like one that was up: Uptime Kuma's behaviour with retries, and Gatus'
failure threshold. While failing but not yet down, the next check comes after the
shorter retry interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tocsin.durations import format_duration, parse_duration
from tocsin.errors import ValidationError
from tocsin.health.model import Status
from tocsin.server.domain.fields import duration_problem
from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip

DEFAULT_FAIL = 2
DEFAULT_RECOVER = 1
DEFAULT_RETRY = timedelta(seconds=10)
MIN_RETRY = timedelta(seconds=1)
RETRY_RULE = "must be at least 1s"
MAX_COUNT = 100
POLICY_FIELDS = frozenset({"fail", "recover", "retry"})


@dataclass(frozen=True)
class ConfirmPolicy:
    """Down after ``fail`` failing checks in a row, up after ``recover`` passing ones;
    ``retry`` is the interval between checks while failing (default: 10 s, at most the
    monitor's interval)."""

    fail: int = DEFAULT_FAIL
    recover: int = DEFAULT_RECOVER
    retry: timedelta | None = None

    def to_json(self) -> dict[str, Any]:
        """The config form: ``{"fail": 2, "recover": 1}`` (+ ``"retry": "10s"``)."""
        data: dict[str, Any] = {"fail": self.fail, "recover": self.recover}
        if self.retry is not None:
            data["retry"] = format_duration(self.retry)
        return data


@dataclass(frozen=True)
class ConfirmationState:
    """A probed monitor's state and its running counts; ``verdict`` is the last one seen."""

    state: MonitorState = MonitorState.NEW
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    verdict: Status | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for storage and the API."""
        return {
            "state": self.state.value,
            "consecutive_failures": self.consecutive_failures,
            "consecutive_successes": self.consecutive_successes,
            "verdict": self.verdict.value if self.verdict else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConfirmationState:
        """The state ``to_json`` wrote."""
        verdict = data.get("verdict")
        return cls(
            MonitorState(data["state"]),
            int(data["consecutive_failures"]),
            int(data["consecutive_successes"]),
            Status(verdict) if verdict else None,
        )


def confirm(
    previous: ConfirmationState, verdict: Status, policy: ConfirmPolicy, cause: str = ""
) -> tuple[ConfirmationState, Flip | None]:
    """Count ``verdict`` and say whether the monitor flips; ``cause`` (the failing
    assertion or component, say) becomes the flip's cause. A paused monitor is left as is."""
    state = previous.state
    if state is MonitorState.PAUSED:
        return previous, None
    if verdict is Status.FAIL:
        failures = previous.consecutive_failures + 1
        current = ConfirmationState(state, failures, 0, verdict)
        if state is not MonitorState.DOWN and failures >= policy.fail:
            why = cause or f"{_checks(failures)} failed in a row"
            return _flip(current, MonitorState.DOWN, why)
        return current, None
    successes = previous.consecutive_successes + 1
    current = ConfirmationState(state, 0, successes, verdict)
    if state is MonitorState.DOWN and successes >= policy.recover:
        return _flip(current, MonitorState.UP, cause or f"{_checks(successes)} passed in a row")
    if state is MonitorState.NEW:
        return _flip(current, MonitorState.UP, cause or "first check passed")
    return current, None


def progress(current: ConfirmationState, policy: ConfirmPolicy) -> str | None:
    """``failing 1/2`` while failing but not yet down, ``recovering 1/3`` while passing
    but not yet up; ``None`` when no count is running."""
    if current.state is MonitorState.DOWN:
        if 0 < current.consecutive_successes < policy.recover:
            return f"recovering {current.consecutive_successes}/{policy.recover}"
        return None
    if current.state is not MonitorState.PAUSED and current.consecutive_failures > 0:
        return f"failing {current.consecutive_failures}/{policy.fail}"
    return None


def retry_due(current: ConfirmationState, policy: ConfirmPolicy) -> bool:
    """Whether the next check should come after the retry interval: failing, not yet down."""
    return (
        current.state not in (MonitorState.DOWN, MonitorState.PAUSED)
        and 0 < current.consecutive_failures < policy.fail
    )


def next_interval(
    current: ConfirmationState, policy: ConfirmPolicy, interval: timedelta
) -> timedelta:
    """How long until the next check: the retry interval (never longer than ``interval``)
    while ``retry_due``, else ``interval``."""
    if not retry_due(current, policy):
        return interval
    return min(policy.retry or DEFAULT_RETRY, interval)


def confirm_policy(data: Mapping[str, Any] | None, field: str = "confirm") -> ConfirmPolicy:
    """Validate ``{fail: 2, recover: 1, retry: 10s}`` (each optional); raise
    ``ValidationError`` listing every problem as ``confirm.fail: ...``."""
    if data is None:
        return ConfirmPolicy()
    if not isinstance(data, Mapping):
        raise ValidationError("invalid confirm", {field: "must be like {fail: 2, recover: 1}"})
    errors: dict[str, str] = {}
    for key in data:
        if key not in POLICY_FIELDS:
            expected = ", ".join(sorted(POLICY_FIELDS))
            errors[f"{field}.{key}"] = f"unknown field; expected one of {expected}"
    counts = {"fail": DEFAULT_FAIL, "recover": DEFAULT_RECOVER}
    for key in counts:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
            errors[f"{field}.{key}"] = f"must be a whole number from 1 to {MAX_COUNT}"
        else:
            counts[key] = value
    retry = None
    if data.get("retry") is not None:
        try:
            retry = parse_duration(data["retry"])
        except (ValueError, TypeError) as exc:
            errors[f"{field}.retry"] = duration_problem(
                data["retry"], str(exc), MIN_RETRY, RETRY_RULE
            )
        else:
            if retry < MIN_RETRY:
                errors[f"{field}.retry"] = RETRY_RULE
    if errors:
        raise ValidationError("invalid confirm", errors)
    return ConfirmPolicy(counts["fail"], counts["recover"], retry)


def _flip(
    current: ConfirmationState, state: MonitorState, cause: str
) -> tuple[ConfirmationState, Flip]:
    moved = ConfirmationState(
        state, current.consecutive_failures, current.consecutive_successes, current.verdict
    )
    return moved, Flip(current.state, state, cause)


def _checks(count: int) -> str:
    return "1 check" if count == 1 else f"{count} checks"
