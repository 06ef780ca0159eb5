"""Maintenance windows and silences: periods when a monitor's checks still run but its
alerts are held.

A window is one-off (``start`` and ``end``, or ``start`` and ``duration``) or recurring
(``cron`` + ``duration`` in ``timezone``). A silence holds one monitor's alerts until a
time (``tocsin silence MONITOR --for 2h``). Windows and silences that overlap or touch
make one hold that lasts until the last of them ends. Pure functions, ``now`` passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from tocsin.durations import format_duration, parse_duration
from tocsin.errors import ValidationError
from tocsin.server.domain.fields import NAME_MAX
from tocsin.server.domain.schedule import load_timezone, normalize_cron
from tocsin.server.domain.spec import _names

ALL_MONITORS = "*"
WINDOW_FIELDS = frozenset({"name", "monitors", "start", "end", "cron", "duration", "timezone"})
# A cron window must fire within this many years of being checked to be valid.
FIRE_HORIZON_YEARS = 5
# Back-to-back windows are followed this far; an endless chain (a window that fires more
# often than it lasts) then ends here and is looked at again when this end comes.
MAX_CHAIN = 1000
_TINY = timedelta(microseconds=1)


class HoldReason(StrEnum):
    """Why alerts are held: a ``maintenance`` window, a ``silence``, a parent monitor that
    is down (``dependency``), or the monitor ``flapping``."""

    MAINTENANCE = "maintenance"
    SILENCE = "silence"
    DEPENDENCY = "dependency"
    FLAPPING = "flapping"


@dataclass(frozen=True)
class Hold:
    """Alerts held for ``reason``: ``names`` are the windows or parents involved, ``until``
    when the hold ends by itself (``None`` when it ends on an event, a parent's recovery)."""

    reason: HoldReason
    names: tuple[str, ...] = ()
    until: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for storage and the API."""
        return {"reason": self.reason.value, "names": list(self.names), "until": to_iso(self.until)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hold:
        """The hold ``to_json`` wrote."""
        names = tuple(str(name) for name in data.get("names") or ())
        return cls(HoldReason(data["reason"]), names, from_iso(data.get("until")))


@dataclass(frozen=True)
class MaintenanceWindow:
    """A named window for ``monitors`` (``"*"``: all): one-off from ``start`` to ``end``,
    or recurring every time ``cron`` fires in ``timezone``, for ``duration``."""

    name: str
    monitors: tuple[str, ...]
    start: datetime | None = None
    end: datetime | None = None
    cron: str | None = None
    duration: timedelta | None = None
    timezone: str = "UTC"

    def applies_to(self, monitor: str) -> bool:
        """Whether this window holds ``monitor``'s alerts."""
        return ALL_MONITORS in self.monitors or monitor in self.monitors

    def occurrence_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The ``(start, end)`` of the occurrence running at ``at`` (end excluded), the one
        that started last if several overlap; ``None`` outside the window."""
        if self.start is not None and self.end is not None:
            return (self.start, self.end) if self.start <= at < self.end else None
        assert self.cron is not None and self.duration is not None
        local = at.astimezone(load_timezone(self.timezone))
        try:
            fired: datetime = next(CronSim(self.cron, local + _TINY, reverse=True))
        except StopIteration:
            return None
        end = fired.astimezone(UTC) + self.duration
        return (fired.astimezone(UTC), end) if at < end else None

    def to_json(self) -> dict[str, Any]:
        """The config form, which ``maintenance_window`` reads back."""
        data: dict[str, Any] = {"name": self.name, "monitors": list(self.monitors)}
        if self.cron is not None and self.duration is not None:
            data |= {"cron": self.cron, "duration": format_duration(self.duration)}
            data["timezone"] = self.timezone
        else:
            data |= {"start": to_iso(self.start), "end": to_iso(self.end)}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MaintenanceWindow:
        """The window ``to_json`` wrote."""
        return maintenance_window(data)


@dataclass(frozen=True)
class Silence:
    """``monitor``'s alerts held from ``start`` until ``until``."""

    monitor: str
    start: datetime
    until: datetime

    def occurrence_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        """``(start, until)`` if the silence runs at ``at``."""
        return (self.start, self.until) if self.start <= at < self.until else None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for storage and the API."""
        return {"monitor": self.monitor, "start": to_iso(self.start), "until": to_iso(self.until)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Silence:
        """The silence ``to_json`` wrote."""
        start, until = from_iso(data["start"]), from_iso(data["until"])
        assert start is not None and until is not None
        return cls(str(data["monitor"]), start, until)


def windows_for(windows: Iterable[MaintenanceWindow], monitor: str) -> list[MaintenanceWindow]:
    """The windows that hold ``monitor``'s alerts."""
    return [window for window in windows if window.applies_to(monitor)]


def active_window(windows: Iterable[MaintenanceWindow], now: datetime) -> Hold | None:
    """The maintenance hold at ``now`` (naming every window running then), lasting until
    ``window_ends_after`` says; ``None`` if no window runs."""
    return current_hold(windows, (), now)


def window_ends_after(windows: Iterable[MaintenanceWindow], now: datetime) -> datetime | None:
    """When maintenance running at ``now`` is over, following windows that overlap or start
    as the previous one ends; ``None`` if none runs at ``now``."""
    return _chain_end(list(windows), now)


def current_hold(
    windows: Iterable[MaintenanceWindow], silences: Iterable[Silence], now: datetime
) -> Hold | None:
    """The hold at ``now`` from ``windows`` and ``silences`` (already picked for one
    monitor); maintenance wins the reason when both run. ``until`` follows chained ones."""
    windows, silences = list(windows), list(silences)
    running = [w.name for w in windows if w.occurrence_at(now)]
    silenced = [s for s in silences if s.occurrence_at(now)]
    if not running and not silenced:
        return None
    until = _chain_end([*windows, *silences], now)
    if running:
        return Hold(HoldReason.MAINTENANCE, tuple(dict.fromkeys(running)), until)
    return Hold(HoldReason.SILENCE, (), until)


def _chain_end(periods: list[MaintenanceWindow | Silence], now: datetime) -> datetime | None:
    end = None
    at = now
    for _ in range(MAX_CHAIN):
        ends = [span[1] for period in periods if (span := period.occurrence_at(at))]
        if not ends:
            break
        end = at = max(ends)
    return end


def to_iso(value: datetime | None) -> str | None:
    """``value`` as ISO 8601 text for JSON, ``None`` kept."""
    return value.isoformat() if value is not None else None


def from_iso(value: Any) -> datetime | None:
    """The datetime ``to_iso`` wrote; ``None`` for a missing value."""
    return datetime.fromisoformat(value) if value else None


def maintenance_window(data: Mapping[str, Any]) -> MaintenanceWindow:
    """Validate a window from ``tocsin.yaml``; raise ``ValidationError`` listing every
    problem by field. Times are ISO 8601 (a time without offset is in ``timezone``)."""
    errors: dict[str, str] = {}
    for key in data:
        if key not in WINDOW_FIELDS:
            errors[str(key)] = f"unknown field; expected one of {', '.join(sorted(WINDOW_FIELDS))}"
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "is required: a non-empty string"
    elif len(name.strip()) > NAME_MAX:
        errors["name"] = f"must be at most {NAME_MAX} characters"
    monitors = _names(data, "monitors", errors)
    if not monitors and "monitors" not in errors:
        errors["monitors"] = 'is required: the monitors it holds, or ["*"] for all of them'
    zone_name = data.get("timezone") or "UTC"
    zone: ZoneInfo | None = None
    try:
        zone = load_timezone(str(zone_name))
    except ValueError as exc:
        errors["timezone"] = str(exc)
    duration = None
    if data.get("duration") is not None:
        try:
            duration = parse_duration(data["duration"])
        except (ValueError, TypeError) as exc:
            errors["duration"] = str(exc)
    start = end = None
    cron = None
    if data.get("cron") is not None:
        for key in ("start", "end"):
            if data.get(key) is not None:
                errors[key] = "give either cron + duration or start + end, not both"
        cron = _cron(data["cron"], errors)
        if data.get("duration") is None:
            errors["duration"] = "is required with cron: how long each window lasts, like 1h"
    else:
        start = _moment(data, "start", zone, errors)
        end = _moment(data, "end", zone, errors)
        if data.get("start") is None:
            errors["start"] = "is required: give start + end (or duration), or cron + duration"
        if data.get("end") is None and data.get("duration") is None:
            errors["end"] = "is required: give end or duration"
        elif data.get("end") is not None and data.get("duration") is not None:
            errors["duration"] = "give either end or duration, not both"
        if start is not None and duration is not None:
            end = start + duration
        if start is not None and end is not None and end <= start:
            errors["end"] = "must be after start"
    if errors:
        raise ValidationError("invalid maintenance window", errors)
    assert isinstance(name, str)
    return MaintenanceWindow(
        name.strip(), monitors, start, end, cron, duration if cron else None, str(zone_name)
    )


def _cron(value: Any, errors: dict[str, str]) -> str | None:
    if not isinstance(value, str):
        errors["cron"] = "must be a cron expression like '0 2 * * 0'"
        return None
    expression = normalize_cron(value)
    problem = cron_never_fires(expression)
    if problem:
        errors["cron"] = problem
        return None
    return expression


def cron_never_fires(expression: str) -> str | None:
    """Why ``expression`` cannot be a maintenance schedule: invalid, or never fires (like
    ``0 0 31 2 *``, February 31st); ``None`` when it fires."""
    expression = normalize_cron(expression)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        times = CronSim(expression, start)
    except CronSimError as exc:
        fields = expression.split()
        if len(fields) == 5 and _fires(" ".join([*fields[:3], "*", fields[4]]), start):
            return f"{expression!r} never fires: none of its months has that day"
        return f"{expression!r} is not a valid cron expression: {exc}"
    try:
        first: datetime = next(times)
    except StopIteration:
        first = start.replace(year=start.year + FIRE_HORIZON_YEARS + 1)
    if first.year > start.year + FIRE_HORIZON_YEARS:
        return f"{expression!r} never fires within {FIRE_HORIZON_YEARS} years"
    return None


def _fires(expression: str, start: datetime) -> bool:
    try:
        CronSim(expression, start)
    except CronSimError:
        return False
    return True


def _moment(
    data: Mapping[str, Any], key: str, zone: ZoneInfo | None, errors: dict[str, str]
) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if not isinstance(moment, datetime):
        errors[key] = "must be a date and time like 2026-12-01T02:00:00Z"
        return None
    if moment.tzinfo is None:
        if zone is None:
            return None
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)
