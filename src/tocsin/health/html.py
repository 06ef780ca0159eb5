"""A health report as a small HTML page for humans: one table, no script, all text escaped.

:func:`prefers_html` reads an ``Accept`` header: a browser (``text/html`` first) gets the
page, while ``curl`` (``*/*``) and monitors (``application/json``) keep health+json.
"""

from __future__ import annotations

from html import escape
from typing import Any

from tocsin.health.model import HealthReport, Measurement, Status

CONTENT_TYPE = "text/html; charset=utf-8"
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("X-Content-Type-Options", "nosniff"),
)
_JSON_TYPES = ("application/health+json", "application/json")
_COLOURS = {Status.PASS: "#1a7f37", Status.WARN: "#9a6700", Status.FAIL: "#cf222e"}
_STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
    "text-align:left;vertical-align:top}.s{font-weight:bold}"
)


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type`` (most specific range wins), 0 if none."""
    main = media_type.split("/", 1)[0]
    best: tuple[int, float] = (-1, 0.0)
    for item in accept.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        kind = kind.lower()
        if kind == media_type:
            rank = 2
        elif kind == f"{main}/*":
            rank = 1
        elif kind == "*/*":
            rank = 0
        else:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if rank > best[0]:
            best = (rank, q)
    return best[1]


def prefers_html(accept: str | None) -> bool:
    """True when ``accept`` ranks ``text/html`` above every JSON type (ties go to JSON)."""
    if not accept:
        return False
    html_q = _quality(accept, "text/html")
    return html_q > 0 and all(html_q > _quality(accept, t) for t in _JSON_TYPES)


def _value(m: Measurement) -> str:
    if m.observed_value is None:
        return ""
    unit = f" {m.observed_unit}" if m.observed_unit else ""
    return f"{m.observed_value}{unit}"


def _status(status: Status) -> str:
    return f'<span class="s" style="color:{_COLOURS[status]}">{status.value}</span>'


def _page(status: Status, body: str) -> str:
    return (
        "<!doctype html>"
        f'<html lang="en"><head><meta charset="utf-8"><title>health: {status.value}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Health: {_status(status)}</h1>{body}</body></html>"
    )


def render(report: HealthReport, info: dict[str, Any] | None = None) -> str:
    """The whole report as an HTML page."""
    rows = "".join(
        "<tr>"
        f"<td>{escape(m.key)}</td><td>{escape(m.component_id or '')}</td>"
        f"<td>{_status(m.status)}</td><td>{escape(_value(m))}</td>"
        f"<td>{escape(m.output)}</td>"
        f"<td>{escape(m.time.isoformat(timespec='seconds'))}</td>"
        "</tr>"
        for m in report.measurements
    )
    facts = "".join(
        f"<li>{escape(str(k))}: {escape(str(v))}</li>"
        for k, v in (info or {}).items()
        if v is not None
    )
    return _page(
        report.status,
        f"<p>{len(report.measurements)} measurements, run at "
        f"{escape(report.time.isoformat(timespec='seconds'))} in {report.duration * 1000:.1f} ms"
        "</p>"
        f"{f'<ul>{facts}</ul>' if facts else ''}"
        "<table><thead><tr><th>check</th><th>component</th><th>status</th><th>value</th>"
        f"<th>output</th><th>time</th></tr></thead><tbody>{rows}</tbody></table>",
    )


def render_status(report: HealthReport) -> str:
    """Only the overall status (for a caller without the token, with ``public_status``)."""
    return _page(report.status, "")
