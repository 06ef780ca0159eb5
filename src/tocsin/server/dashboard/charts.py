"""Charts drawn on the server as inline SVG: sparklines, line charts and a state timeline.

No script draws them, so they work under the strict Content-Security-Policy and without
JavaScript. Each chart carries a text alternative (``role="img"`` with a label), and the
pages show the same figures as text or tables next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

_CHART_WIDTH = 600
_CHART_HEIGHT = 160
_PAD = 4


@dataclass(frozen=True)
class Series:
    """One line of a chart: ``points`` are ``(time, value)``, oldest first."""

    name: str
    css_class: str
    points: Sequence[tuple[datetime, float]]


@dataclass(frozen=True)
class Span:
    """A stretch of time a monitor spent in one state."""

    start: datetime
    end: datetime
    state: str


def _fraction(moment: datetime, start: datetime, end: datetime) -> float:
    total = (end - start).total_seconds() or 1.0
    return min(1.0, max(0.0, (moment - start).total_seconds() / total))


def _number(value: float) -> str:
    return f"{value:.1f}"


def sparkline(values: Sequence[float], label: str, width: int = 120, height: int = 28) -> Markup:
    """A small line of ``values`` (evenly spaced); empty markup for fewer than two."""
    if len(values) < 2:
        return Markup("")
    top = max(values) or 1.0
    step = (width - 2 * _PAD) / (len(values) - 1)
    scale = (height - 2 * _PAD) / top
    # Plain string formatting, joined to markup once (``+`` escapes the label and points):
    # a list page draws fifty of these on every poll.
    points = " ".join(
        [f"{_PAD + i * step:.1f},{height - _PAD - v * scale:.1f}" for i, v in enumerate(values)]
    )
    head = Markup(
        '<svg class="sparkline" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="'
    ).format(w=width, h=height)
    return head + label + Markup('"><polyline points="') + points + Markup('"/></svg>')


def line_chart(
    series: Sequence[Series], start: datetime, end: datetime, label: str, unit: str
) -> Markup:
    """Lines over time from ``start`` to ``end``, scaled from 0 to the highest value."""
    values = [value for line in series for _, value in line.points]
    if not values:
        return Markup("")
    top = max(values) or 1.0
    width, height = _CHART_WIDTH, _CHART_HEIGHT
    lines = Markup("").join(
        Markup('<polyline class="{css}" points="{points}"><title>{name}</title></polyline>').format(
            css=line.css_class,
            name=line.name,
            points=" ".join(
                f"{_number(_fraction(at, start, end) * width)},"
                f"{_number(height - _PAD - (value / top) * (height - 2 * _PAD))}"
                for at, value in line.points
            ),
        )
        for line in series
        if line.points
    )
    keys = Markup(" ").join(
        Markup('<span class="key {css}">{name}</span>').format(css=line.css_class, name=line.name)
        for line in series
    )
    return Markup(
        '<figure class="chart"><svg viewBox="0 0 {w} {h}" preserveAspectRatio="none" '
        'role="img" aria-label="{label}">'
        '<line class="axis" x1="0" y1="{bottom}" x2="{w}" y2="{bottom}"/>{lines}</svg>'
        '<figcaption><span class="scale">scale 0 to {top} {unit}</span> {keys}</figcaption>'
        "</figure>"
    ).format(
        w=width,
        h=height,
        bottom=height - 1,
        label=label,
        lines=lines,
        top=_number(top),
        unit=unit,
        keys=keys,
    )


def state_timeline(spans: Sequence[Span], start: datetime, end: datetime, label: str) -> Markup:
    """A bar coloured by state over time; each stretch names its state and times."""
    width, height = _CHART_WIDTH, 24
    bars = []
    for span in spans:
        left = _fraction(span.start, start, end) * width
        right = _fraction(span.end, start, end) * width
        if right <= left:
            continue
        title = f"{span.state} from {span.start:%Y-%m-%d %H:%M} to {span.end:%Y-%m-%d %H:%M} UTC"
        bars.append(
            Markup(
                '<rect class="fill-{state}" x="{x}" y="0" width="{w}" height="{h}">'
                "<title>{title}</title></rect>"
            ).format(
                state=span.state, x=_number(left), w=_number(right - left), h=height, title=title
            )
        )
    return Markup(
        '<svg class="timeline" viewBox="0 0 {w} {h}" preserveAspectRatio="none" role="img" '
        'aria-label="{label}">{bars}</svg>'
    ).format(w=width, h=height, label=label, bars=Markup("").join(bars))


def spans_from_flips(
    flips: Sequence[tuple[datetime, str, str]], current: str, start: datetime, end: datetime
) -> list[Span]:
    """The state spans from ``start`` to ``end`` given flips ``(at, old, new)`` oldest first
    and the ``current`` state."""
    spans: list[Span] = []
    state = flips[0][1] if flips else current
    moment = start
    for at, _old, new in flips:
        if at > moment:
            spans.append(Span(moment, at, state))
            moment = at
        state = new
    spans.append(Span(moment, end, state))
    return spans
