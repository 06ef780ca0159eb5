"""Maintenance windows and silences as the maintenance page shows them: what each holds,
whether it runs now (and until when) or when it next starts. Pure: ``now`` is passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cronsim import CronSim

from tocsin.durations import format_duration
from tocsin.server.domain.maintenance import ALL_MONITORS, MaintenanceWindow
from tocsin.server.domain.schedule import load_timezone
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.holds import HoldRecord


@dataclass(frozen=True)
class WindowView:
    """One maintenance window on the page."""

    name: str
    monitors: tuple[str, ...]  # empty: every monitor
    recurring: bool
    cron: str | None
    duration: str | None  # recurring: how long each occurrence lasts, as written (1h)
    timezone: str
    start: datetime | None  # one-off
    end: datetime | None
    active_until: datetime | None  # set while it runs
    next_start: datetime | None  # set while it does not run and will again
    from_config: bool  # written by ``tocsin apply``: the file puts it back if deleted


@dataclass(frozen=True)
class SilenceView:
    """One silence on the page."""

    monitor: str
    monitor_uuid: str | None  # None if the monitor was renamed away meanwhile
    since: datetime | None
    until: datetime | None


def window_view(record: HoldRecord, now: datetime) -> WindowView:
    """The window ``record`` holds, seen at ``now``."""
    assert record.window is not None
    window = MaintenanceWindow.from_json(record.window)
    running = window.occurrence_at(now)
    return WindowView(
        name=window.name,
        monitors=() if ALL_MONITORS in window.monitors else window.monitors,
        recurring=window.cron is not None,
        cron=window.cron,
        duration=format_duration(window.duration) if window.duration else None,
        timezone=window.timezone,
        start=window.start,
        end=window.end,
        active_until=running[1] if running else None,
        next_start=None if running else next_start(window, now),
        from_config=record.managed_by == ManagedBy.CONFIG.value,
    )


def next_start(window: MaintenanceWindow, now: datetime) -> datetime | None:
    """When ``window`` next starts after ``now``; ``None`` if it never will."""
    if window.cron is None:
        return window.start if window.start is not None and window.start > now else None
    local = now.astimezone(load_timezone(window.timezone))
    try:
        fired: datetime = next(CronSim(window.cron, local))
    except StopIteration:
        return None
    return fired.astimezone(UTC)


def silence_view(record: HoldRecord, uuids: dict[str, str]) -> SilenceView:
    """The silence ``record``, linked to its monitor by ``uuids`` (name → uuid)."""
    monitor = record.monitor or ""
    return SilenceView(monitor, uuids.get(monitor), record.starts_at, record.ends_at)
