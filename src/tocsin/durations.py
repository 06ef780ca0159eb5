"""Durations as users write them: ``500ms``, ``30s``, ``5m``, ``2h``, ``1d``, ``1w`` or plain
seconds.

Shared by both halves (settings read durations too), so it imports only the standard library.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A sign is read so that validators can say what a negative value needed (parse_duration
# refuses it as not a duration).
_PATTERN = re.compile(r"^\s*(-?)(\d+(?:\.\d+)?)\s*(ms|[smhdw])?\s*$")


def written_seconds(text: str) -> float | None:
    """The seconds ``text`` spells as a duration, zero and negative ones included and no
    bound checked (``"-500ms"`` → -0.5); ``None`` when it is no number with a unit."""
    match = _PATTERN.match(text)
    if match is None:
        return None
    sign, number, unit = match.group(1), float(match.group(2)), match.group(3) or "s"
    # Divided, not multiplied by 0.001: 9 * 0.001 is 0.009000000000000001.
    seconds = number / 1000 if unit == "ms" else number * _UNITS[unit]
    return -seconds if sign else seconds


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse ``value`` into a ``timedelta``; raise ``ValueError`` with a clear message.

    Accepts a number of seconds (int, float or digits) or a number with one unit
    (``ms``, ``s``, ``m``, ``h``, ``d``, ``w``). Zero and negative durations are refused;
    callers check their own bounds (a probe interval of ``500ms`` is too short).
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or like 30s, 5m, 2h, 1d")
    elif isinstance(value, int | float):
        seconds = float(value)
    else:
        written = written_seconds(value)
        if written is None or value.lstrip().startswith("-"):
            raise ValueError(f"{value!r} is not a duration; use seconds or 30s, 5m, 2h, 1d, 1w")
        seconds = written
    if not seconds > 0:
        raise ValueError("a duration must be longer than 0 seconds")
    if seconds > 366 * 86400:
        raise ValueError("a duration must be at most 366 days")
    duration = timedelta(seconds=seconds)
    if not duration:  # under half a microsecond rounds to nothing
        raise ValueError("a duration must be at least a microsecond")
    return duration


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: ``timedelta(hours=2)`` → ``2h``, 90 s → ``90s``."""
    seconds = value.total_seconds()
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:.6f}".rstrip("0") + "s"


def describe_span(value: timedelta) -> str:
    """A rounded, readable length of time for people: ``45 s``, ``12 min``, ``3 h 5 min``,
    ``2 d 4 h`` (at most two units, never ``0 min``)."""
    seconds = max(0, round(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
