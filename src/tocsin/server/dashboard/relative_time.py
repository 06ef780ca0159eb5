"""Times as the incident and maintenance pages show them: UTC, plus how long ago or ahead."""

from __future__ import annotations

from datetime import UTC, datetime

from tocsin.durations import describe_span

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def relative(at: datetime, now: datetime) -> str:
    """``at`` seen from ``now``: ``3 h 5 min ago``, ``in 2 h``, or ``now``."""
    seconds = (at - now).total_seconds()
    if abs(seconds) < 1:
        return "now"
    span = describe_span(abs(at - now))
    return f"in {span}" if seconds > 0 else f"{span} ago"


def utc_text(at: datetime) -> str:
    """``at`` in UTC, to the second: ``2026-12-01 22:00:00 UTC``."""
    return at.astimezone(UTC).strftime(TIME_FORMAT) + " UTC"
