"""What the public sees of a monitor: a state word (up, degraded, down...), and 90 daily
uptime bars. Shared by status pages and badges; nothing here reads a monitor's settings,
results or errors, so nothing internal can reach a public page through it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from tocsin.health.model import Status
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.probe_rows import ComponentStateRecord, Tally
from tocsin.server.storage.rows import MonitorRecord

DAYS = 90
_DAY = timedelta(days=1)
# States in which a heartbeat monitor is not watched: their time counts neither way.
_UNWATCHED = frozenset({MonitorState.NEW.value, MonitorState.PAUSED.value})


class PublicState(StrEnum):
    """A monitor's (or component's, or group's) state as shown publicly."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    PAUSED = "paused"
    UNKNOWN = "unknown"


def monitor_state(monitor: MonitorRecord) -> PublicState:
    """``down`` once confirmed down; ``degraded`` while the newest check warns."""
    state = monitor.status.state
    if state is MonitorState.PAUSED:
        return PublicState.PAUSED
    if state is MonitorState.NEW:
        return PublicState.UNKNOWN
    if state is MonitorState.DOWN:
        return PublicState.DOWN
    return PublicState.DEGRADED if monitor.last_verdict == Status.WARN else PublicState.UP


def component_state(monitor: MonitorRecord, component: ComponentStateRecord | None) -> PublicState:
    """A component's state; while its monitor is down and the newest check could not read
    the component, the component counts as down too."""
    whole = monitor_state(monitor)
    if whole in (PublicState.PAUSED, PublicState.UNKNOWN):
        return whole
    fresh = component is not None and (
        monitor.last_result_at is None or component.updated_at >= monitor.last_result_at
    )
    if component is None or (whole is PublicState.DOWN and not fresh):
        return PublicState.DOWN if whole is PublicState.DOWN else PublicState.UNKNOWN
    return {
        Status.PASS: PublicState.UP,
        Status.WARN: PublicState.DEGRADED,
        Status.FAIL: PublicState.DOWN,
    }[component.status]


def combined_state(states: Iterable[PublicState]) -> PublicState:
    """One state for many: ``down`` if all watched ones are down, ``degraded`` if some are
    down or degraded, ``up`` if all are up; paused and unknown ones do not count."""
    watched = [s for s in states if s not in (PublicState.PAUSED, PublicState.UNKNOWN)]
    if not watched:
        return PublicState.UNKNOWN
    if all(s is PublicState.DOWN for s in watched):
        return PublicState.DOWN
    if all(s is PublicState.UP for s in watched):
        return PublicState.UP
    return PublicState.DEGRADED


def overall_summary(states: Sequence[PublicState]) -> str:
    """The sentence at the top of a status page."""
    combined = combined_state(states)
    if combined is PublicState.UP:
        return "All systems operational"
    if combined is PublicState.DOWN:
        return "Major outage"
    if PublicState.DOWN in states:
        return "Partial outage"
    if combined is PublicState.DEGRADED:
        return "Degraded performance"
    return "Status unknown"


@dataclass(frozen=True)
class DayBar:
    """One day's bar: the fraction of checks (or watched time) that was up."""

    day: date
    uptime: float | None  # None: no data that day

    @property
    def level(self) -> str:
        """The bar's colour class: ``none``, ``up``, ``minor`` (≥ 99 %) or ``major``."""
        if self.uptime is None:
            return "none"
        if self.uptime >= 1.0:
            return "up"
        return "minor" if self.uptime >= 0.99 else "major"

    @property
    def label(self) -> str:
        """The bar's text, e.g. ``2026-11-30: 99.86% up``."""
        if self.uptime is None:
            return f"{self.day.isoformat()}: no data"
        return f"{self.day.isoformat()}: {format_percent(self.uptime)} up"


def format_percent(fraction: float) -> str:
    """``0.99861`` as ``99.86%``; never rounds a bad day up to 100%."""
    percent = 100.0 * fraction
    if percent < 100.0:
        percent = min(percent, 99.99)
    return f"{percent:.2f}%".replace("100.00%", "100%")


def window_days(now: datetime) -> list[date]:
    """The ``DAYS`` UTC days ending today, oldest first."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=offset) for offset in range(DAYS - 1, -1, -1)]


def window_start(now: datetime) -> datetime:
    """The start (UTC midnight) of the oldest day of the window."""
    return datetime.combine(window_days(now)[0], time(), UTC)


def bars_from_tallies(days: Sequence[date], tallies: dict[date, Tally]) -> list[DayBar]:
    """Bars of a probed monitor or component from its daily check counts."""
    bars = []
    for day in days:
        tally = tallies.get(day)
        if tally is None or tally.count == 0:
            bars.append(DayBar(day, None))
        else:
            bars.append(DayBar(day, 1.0 - tally.failures / tally.count))
    return bars


def total_from_tallies(tallies: dict[date, Tally]) -> float | None:
    """The uptime over every day counted."""
    total = sum(tallies.values(), Tally())
    return None if total.count == 0 else 1.0 - total.failures / total.count


@dataclass(frozen=True)
class _Span:
    start: datetime
    end: datetime
    state: str


def _spans(
    created_at: datetime,
    current: MonitorState,
    flips: Sequence[tuple[datetime, str, str]],
    start: datetime,
    now: datetime,
) -> list[_Span]:
    """The monitor's states from ``start`` (or its creation) to ``now``."""
    state = flips[0][1] if flips else current.value
    cursor = max(start, created_at)
    spans = []
    for flipped_at, _, new in flips:
        at = min(flipped_at, now)
        if at > cursor:
            spans.append(_Span(cursor, at, state))
        cursor, state = max(cursor, at), new
    if now > cursor:
        spans.append(_Span(cursor, now, state))
    return spans


def heartbeat_uptime(
    created_at: datetime,
    current: MonitorState,
    flips: Sequence[tuple[datetime, str, str]],
    days: Sequence[date],
    now: datetime,
) -> tuple[list[DayBar], float | None]:
    """Bars of a heartbeat monitor created at ``created_at``, in state ``current`` now,
    from its flips ``(at, old, new)`` in the window (time down over time watched), and the
    uptime over the whole window."""
    start = datetime.combine(days[0], time(), UTC)
    watched = dict.fromkeys(days, 0.0)
    down = dict.fromkeys(days, 0.0)
    for span in _spans(created_at, current, flips, start, now):
        if span.state in _UNWATCHED:
            continue
        moment = span.start
        while moment < span.end:
            day = moment.date()
            end = min(span.end, datetime.combine(day, time(), UTC) + _DAY)
            seconds = (end - moment).total_seconds()
            if day in watched:
                watched[day] += seconds
                if span.state == MonitorState.DOWN.value:
                    down[day] += seconds
            moment = end
    bars = [
        DayBar(day, 1.0 - down[day] / watched[day] if watched[day] > 0 else None) for day in days
    ]
    total_watched = sum(watched.values())
    total = 1.0 - sum(down.values()) / total_watched if total_watched > 0 else None
    return bars, total
