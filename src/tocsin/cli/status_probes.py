"""`tocsin status` for probed monitors (http, app, tcp): state, confirmation count, the
last check and what it found, each component of an app monitor with its value, and (with
``-v``) every assertion's outcome in the last check."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

COLUMNS = ("NAME", "KIND", "STATE", "CONFIRM", "LAST CHECK", "TARGET", "RESULT")

PASSED, FAILED, WARNED = "✓", "✗", "!"


def target(monitor: Mapping[str, Any]) -> str:
    """Where the monitor probes: its URL, or ``host:port`` for tcp."""
    probe = monitor.get("probe") or {}
    if probe.get("url"):
        return str(probe["url"])
    if probe.get("host"):
        return f"{probe['host']}:{probe.get('port', '')}"
    return "-"


def summary(result: Mapping[str, Any] | None) -> str:
    """The last result in one line: its verdict, why, and how long it took."""
    if not result:
        return "not checked yet"
    verdict = str(result.get("verdict", ""))
    if result.get("failure"):
        why = [f"{result['failure']}: {result.get('error') or ''}".rstrip(": ")]
    else:
        why = [str(o["message"]) for o in result.get("outcomes") or () if not o.get("passed")]
        why += [
            str(c["message"]) for c in result.get("components") or () if c.get("status") != "pass"
        ]
    took = result.get("total_ms")
    text = f"{verdict}: {'; '.join(why)}" if why else verdict
    return f"{text} ({took:.0f} ms)" if isinstance(took, int | float) else text


def _value(component: Mapping[str, Any]) -> str:
    value = component.get("value")
    unit = component.get("unit")
    shown = "-" if value is None else str(value)
    return f"{shown} {unit}" if unit and value is not None else shown


def component_lines(monitor: Mapping[str, Any]) -> list[str]:
    """An app monitor's components, one indented line each: key, state, value, message."""
    components = monitor.get("components") or []
    if not components:
        return []
    width = max(len(str(c.get("key", ""))) for c in components)
    values = [_value(c) for c in components]
    value_width = max(len(v) for v in values)
    return [
        f"    {str(c.get('key', '')).ljust(width)}  {str(c.get('status', '')).ljust(4)}  "
        f"{value.ljust(value_width)}  {c.get('message') or ''}".rstrip()
        for c, value in zip(components, values, strict=True)
    ]


def _mark(outcome: Mapping[str, Any]) -> str:
    if outcome.get("passed"):
        return PASSED
    return WARNED if outcome.get("severity") == "warn" else FAILED


def outcome_lines(monitor: Mapping[str, Any]) -> list[str]:
    """Every assertion's outcome in the monitor's last result, one indented line each:
    ``✓`` passed, ``✗`` failed, ``!`` failed a ``[warn]`` assertion; then its message."""
    result = monitor.get("last_result") or {}
    return [
        f"    {_mark(o)} {o.get('message') or o.get('text') or ''}"
        for o in result.get("outcomes") or ()
    ]


def render_probes(
    monitors: Sequence[Mapping[str, Any]],
    now: datetime,
    ago: Callable[[Any, datetime], str],
    *,
    outcomes: bool = False,
) -> list[str]:
    """The probed monitors as aligned columns (the result last, unpadded), each followed
    by every assertion's outcome when ``outcomes`` is set, then (app monitors) its
    components; ``ago`` formats the last check's time."""
    rows = [COLUMNS] + [
        (
            str(m.get("name", "")),
            str(m.get("kind", "")),
            str(m.get("state", "")),
            str(m.get("confirmation") or "-"),
            ago(m.get("last_result_at"), now),
            target(m),
            summary(m.get("last_result")),
        )
        for m in monitors
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = []
    for index, row in enumerate(rows):
        cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        lines.append(f"{cells}  {row[-1]}")
        if index:
            monitor = monitors[index - 1]
            lines += outcome_lines(monitor) if outcomes else []
            lines += component_lines(monitor)
    return lines
