"""Flapping: a monitor that keeps changing state sends one notification, then stays quiet
until it has been stable for a while.

A monitor is *flapping* once ``changes`` state changes fall within ``within`` of each other
(5 within 30 minutes by default). It stays flapping until no change has happened for
``within``; then the decision rules tell users where it settled. Pure functions over flip
times, ``now`` passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tocsin.durations import format_duration, parse_duration
from tocsin.errors import ValidationError
from tocsin.server.domain.maintenance import from_iso, to_iso

DEFAULT_CHANGES = 5
DEFAULT_WITHIN = timedelta(minutes=30)
MIN_CHANGES = 2
MAX_CHANGES = 100
MAX_WITHIN = timedelta(days=1)
FLAP_FIELDS = frozenset({"changes", "within"})


@dataclass(frozen=True)
class FlapPolicy:
    """Flapping once ``changes`` state changes fall within ``within``; stable again after
    ``within`` without a change."""

    changes: int = DEFAULT_CHANGES
    within: timedelta = DEFAULT_WITHIN

    def to_json(self) -> dict[str, Any]:
        """The config form: ``{"changes": 5, "within": "30m"}``."""
        return {"changes": self.changes, "within": format_duration(self.within)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlapPolicy:
        """The policy ``to_json`` wrote."""
        return cls(int(data["changes"]), parse_duration(data["within"]))


@dataclass(frozen=True)
class FlapStatus:
    """Whether a monitor is flapping; ``since`` is when it started, ``until`` when it is
    stable again if no further change comes (the last change + ``within``)."""

    flapping: bool = False
    since: datetime | None = None
    until: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for storage and the API (times as ISO 8601)."""
        return {
            "flapping": self.flapping,
            "since": to_iso(self.since),
            "until": to_iso(self.until),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlapStatus:
        """The status ``to_json`` wrote."""
        return cls(bool(data["flapping"]), from_iso(data.get("since")), from_iso(data.get("until")))


def flap_status(
    previous: FlapStatus, flip_times: Sequence[datetime], now: datetime, policy: FlapPolicy
) -> FlapStatus:
    """The flapping status at ``now``, carrying on from the one stored before.

    ``flip_times`` are the monitor's state changes up to ``now``, in any order; the last
    ``policy.changes`` of them are enough. Call it after recording a flip and once
    ``previous.until`` has passed (the monitor is then stable again).
    """
    flapping, since = previous.flapping, previous.since
    seen = previous.until - policy.within if flapping and previous.until else None
    flips = sorted(t for t in flip_times if t <= now and (seen is None or t > seen))
    last = seen
    for index, at in enumerate(flips):
        if flapping and last is not None and at - last >= policy.within:
            flapping, since = False, None
        first = index - policy.changes + 1
        if not flapping and first >= 0 and at - flips[first] < policy.within:
            flapping, since = True, at
        last = at
    if not flapping or last is None or now - last >= policy.within:
        return FlapStatus()
    return FlapStatus(True, since, last + policy.within)


def flap_policy(value: Any, field: str = "flapping") -> FlapPolicy | None:
    """Validate ``{changes: 5, within: 30m}`` (each optional) or ``off``/``false`` (no
    flapping detection, ``None``); raise ``ValidationError`` listing every problem."""
    if value is None:
        return FlapPolicy()
    if value is False or value == "off":
        return None
    if not isinstance(value, Mapping):
        message = "must be like {changes: 5, within: 30m}, or off"
        raise ValidationError("invalid flapping", {field: message})
    errors: dict[str, str] = {}
    for key in value:
        if key not in FLAP_FIELDS:
            errors[f"{field}.{key}"] = "unknown field; expected one of changes, within"
    changes = value.get("changes", DEFAULT_CHANGES)
    if isinstance(changes, bool) or not isinstance(changes, int):
        changes = -1
    if not MIN_CHANGES <= changes <= MAX_CHANGES:
        errors[f"{field}.changes"] = f"must be a whole number from {MIN_CHANGES} to {MAX_CHANGES}"
    within = DEFAULT_WITHIN
    try:
        within = parse_duration(value.get("within", DEFAULT_WITHIN))
    except (ValueError, TypeError) as exc:
        errors[f"{field}.within"] = str(exc)
    else:
        if within > MAX_WITHIN:
            errors[f"{field}.within"] = f"must be at most {format_duration(MAX_WITHIN)}"
    if errors:
        raise ValidationError("invalid flapping", errors)
    return FlapPolicy(changes, within)
