"""Heartbeat schedules: when the next ping is expected and when silence becomes ``down``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

# cronsim accepts only plain expressions; these are the aliases Debian's cron knows.
CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def normalize_cron(expression: str) -> str:
    """Map ``@daily`` and friends to their five fields; other text is only stripped."""
    text = " ".join(expression.split())
    return CRON_ALIASES.get(text.lower(), text)


def check_cron(expression: str) -> str | None:
    """Return why ``expression`` is not a valid cron expression, or ``None`` if it is."""
    try:
        CronSim(normalize_cron(expression), datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")))
    except CronSimError as exc:
        return f"{expression!r} is not a valid cron expression: {exc}"
    return None


def load_timezone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` called ``name``; ``ValueError`` names the problem if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = "use a name like Europe/Berlin"
        raise ValueError(f"{name!r} is not a known time zone ({hint})") from exc


@dataclass(frozen=True)
class Schedule:
    """Either a fixed ``period`` or a ``cron`` expression in ``timezone``, plus ``grace``."""

    grace: timedelta
    period: timedelta | None = None
    cron: str | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if (self.period is None) == (self.cron is None):
            raise ValueError("a schedule has exactly one of period and cron")

    def next_expected(self, last_ping_at: datetime) -> datetime:
        """When the ping after one received at ``last_ping_at`` is due."""
        if self.period is not None:
            return last_ping_at + self.period
        assert self.cron is not None
        zone = load_timezone(self.timezone)
        after = last_ping_at.astimezone(zone)
        due: datetime = next(CronSim(normalize_cron(self.cron), after))
        return due.astimezone(last_ping_at.tzinfo)
