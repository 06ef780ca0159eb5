"""What the public sees of a monitor: a state word (up, degraded, down...), and 90 daily
uptime bars. Shared by status pages and badges; nothing here reads a monitor's settings,
results or errors, so nothing internal can reach a public page through it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from markupsafe import Markup

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


def public_percent(fraction: float | None) -> float | None:
    """``0.999996`` as ``99.999`` (percent, 3 decimals); never rounds below 100 up to 100."""
    if fraction is None:
        return None
    percent = round(100.0 * fraction, 3)
    return min(percent, 99.999) if fraction < 1.0 else percent


def window_days(now: datetime) -> list[date]:
    """The ``DAYS`` UTC days ending today, oldest first."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=offset) for offset in range(DAYS - 1, -1, -1)]


def window_start(now: datetime) -> datetime:
    """The start (UTC midnight) of the oldest day of the window."""
    return datetime.combine(window_days(now)[0], time(), UTC)


@dataclass(frozen=True, slots=True)
class Share:
    """How much was counted (checks, or seconds a heartbeat was watched) and how much of it
    was bad (failed checks, seconds down)."""

    total: float = 0.0
    bad: float = 0.0

    def __add__(self, other: Share) -> Share:
        return Share(self.total + other.total, self.bad + other.bad)

    @property
    def uptime(self) -> float | None:
        """The good fraction; ``None`` when nothing was counted."""
        return None if self.total <= 0 else 1.0 - self.bad / self.total


def share_of(tally: Tally) -> Share:
    """Checks and failures as a ``Share``."""
    return Share(tally.count, tally.failures)


# The uptime windows shown publicly: the last 24 hours, and the last 7, 30 and 90 UTC days
# (today included), as the bars count them.
WINDOW_DAYS = {"7d": 7, "30d": 30, "90d": DAYS}
WINDOWS = ("24h", *WINDOW_DAYS)


def item_figures(
    days: Sequence[date], by_day: Mapping[date, Share], last_24h: Share
) -> tuple[list[DayBar], dict[str, float | None]]:
    """An item's bars over ``days`` and its uptime per window (``WINDOWS``)."""
    bars = []
    for day in days:
        share = by_day.get(day)
        bars.append(DayBar(day, None if share is None else share.uptime))
    ends = {count: name for name, count in WINDOW_DAYS.items()}
    windows: dict[str, float | None] = dict.fromkeys(WINDOWS)
    windows["24h"] = last_24h.uptime
    total = bad = 0.0
    for back, day in enumerate(reversed(days), start=1):  # newest first
        share = by_day.get(day)
        if share is not None:
            total, bad = total + share.total, bad + share.bad
        if back in ends:
            windows[ends[back]] = None if total <= 0 else 1.0 - bad / total
    return bars, windows


def bars_markup(bars: Sequence[DayBar]) -> Markup:
    """The bars as HTML list items, built without the template engine (90 bars per item;
    dates and percentages need no escaping)."""
    parts = []
    for bar in bars:
        uptime = bar.uptime
        if uptime is None:
            parts.append(f'<li class="bar bar-none" title="{bar.day}: no data"></li>')
        elif uptime >= 1.0:
            parts.append(f'<li class="bar bar-up" title="{bar.day}: 100% up"></li>')
        else:  # as format_percent, inline: 2,250 bars on a page of 25 items
            level = "minor" if uptime >= 0.99 else "major"
            text = f"{min(100.0 * uptime, 99.99):.2f}%"
            parts.append(f'<li class="bar bar-{level}" title="{bar.day}: {text} up"></li>')
    return Markup("".join(parts))  # noqa: S704 (ISO dates and numbers only, no user text)


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


def heartbeat_spans(
    created_at: datetime,
    current: MonitorState,
    flips: Sequence[tuple[datetime, str, str]],
    start: datetime,
    until: datetime,
) -> list[tuple[datetime, datetime, bool]]:
    """The watched time of a heartbeat monitor created at ``created_at``, in state
    ``current`` after its ``flips`` ``(at, old, new)`` since ``start`` (oldest first), from
    ``start`` to ``until``: ``(from, to, down)`` spans (time ``new`` or ``paused`` left out)."""
    return [
        (span.start, span.end, span.state == MonitorState.DOWN.value)
        for span in _spans(created_at, current, flips, start, until)
        if span.state not in _UNWATCHED
    ]


def shares_by_day(spans: Iterable[tuple[datetime, datetime, bool]]) -> dict[date, Share]:
    """Seconds watched and down per UTC day of ``spans`` (from ``heartbeat_spans``)."""
    watched: dict[date, float] = {}
    down: dict[date, float] = {}
    for start, end, is_down in spans:
        moment = start
        while moment < end:
            day = moment.date()
            stop = min(end, datetime.combine(day, time(), UTC) + _DAY)
            seconds = (stop - moment).total_seconds()
            watched[day] = watched.get(day, 0.0) + seconds
            if is_down:
                down[day] = down.get(day, 0.0) + seconds
            moment = stop
    return {day: Share(seconds, down.get(day, 0.0)) for day, seconds in watched.items()}


def share_since(spans: Iterable[tuple[datetime, datetime, bool]], since: datetime) -> Share:
    """Seconds watched and down in ``spans`` from ``since`` on."""
    total = Share()
    for start, end, is_down in spans:
        if end > since:
            seconds = (end - max(start, since)).total_seconds()
            total += Share(seconds, seconds if is_down else 0.0)
    return total


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
    by_day = shares_by_day(heartbeat_spans(created_at, current, flips, start, now))
    bars = [DayBar(day, by_day[day].uptime if day in by_day else None) for day in days]
    return bars, sum((by_day[day] for day in days if day in by_day), Share()).uptime
