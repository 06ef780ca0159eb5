"""The public view of a status page: read what it shows and reduce it to public facts.

Only the names chosen for the page, state words, daily uptime and incident start times
leave this module: never a monitor's name, URL, settings, results or error text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.dashboard.past_days import Figures, PastDays
from tocsin.server.dashboard.public_state import (
    DayBar,
    PublicState,
    bars_markup,
    combined_state,
    component_state,
    format_percent,
    item_figures,
    monitor_state,
    overall_summary,
    window_days,
    window_start,
)
from tocsin.server.domain.states import MonitorKind
from tocsin.server.storage.probe_reads import list_component_states
from tocsin.server.storage.status_pages import StatusPageRecord, monitors_by_id
from tocsin.server.storage.uptime_days import open_incident_times


@dataclass(frozen=True)
class ItemView:
    """One line of the public page."""

    name: str
    state: PublicState
    bars: list[DayBar]
    windows: dict[str, float | None]  # uptime fraction per window (``WINDOWS``); None: no data

    @property
    def uptime(self) -> str:
        """The uptime over the 90 days as text: ``99.95%``, or ``no data``."""
        total = self.windows["90d"]
        return "no data" if total is None else format_percent(total)

    @property
    def bars_html(self) -> Markup:
        """The bars as HTML list items."""
        return bars_markup(self.bars)


@dataclass(frozen=True)
class IncidentView:
    """An open incident: which of the page's items it touches, and since when."""

    names: list[str]
    since: datetime


@dataclass(frozen=True)
class PageView:
    """Everything the public page shows, as of ``at``."""

    title: str
    summary: str
    state: PublicState
    items: list[ItemView]
    incidents: list[IncidentView]
    at: datetime


async def page_view(
    conn: AsyncConnection, page: StatusPageRecord, now: datetime, past: PastDays
) -> PageView:
    """Read the page's monitors, components, uptime and incidents as of ``now`` (finished
    days through ``past``)."""
    monitor_ids = {item.monitor_id for item in page.items}
    found = await monitors_by_id(conn, monitor_ids)
    probed = {i for i, m in found.items() if m.kind is not MonitorKind.HEARTBEAT}
    apps = [i for i in probed if found[i].kind is MonitorKind.APP]
    components = await list_component_states(conn, apps) if apps else {}
    start = window_start(now)
    probed_keys = list(
        dict.fromkeys((i.monitor_id, i.component_key) for i in page.items if i.monitor_id in probed)
    )
    figures: dict[tuple[int, str], Figures] = {}
    if probed_keys:
        figures.update(await past.probed(conn, probed_keys, start, now))
    beats = [m for i, m in found.items() if i not in probed]
    if beats:
        for monitor_id, beat in (await past.heartbeats(conn, beats, start, now)).items():
            figures[(monitor_id, "")] = beat
    incidents = await open_incident_times(conn, monitor_ids)
    days = window_days(now)
    items: list[ItemView] = []
    for item in page.items:
        monitor = found[item.monitor_id]
        if item.component_key:
            reading = {c.key: c for c in components.get(monitor.id, [])}.get(item.component_key)
            state = component_state(monitor, reading)
        else:
            state = monitor_state(monitor)
        key = (monitor.id, item.component_key if monitor.id in probed else "")
        counted = figures[key]
        bars, windows = item_figures(days, counted.by_day, counted.last_24h)
        items.append(ItemView(item.display_name, state, bars, windows))
    touched: dict[int, list[str]] = {}
    for item in page.items:
        if item.monitor_id in incidents:
            names = touched.setdefault(item.monitor_id, [])
            if item.display_name not in names:
                names.append(item.display_name)
    open_incidents = sorted(
        (IncidentView(names, incidents[monitor_id]) for monitor_id, names in touched.items()),
        key=lambda incident: incident.since,
        reverse=True,
    )
    states = [item.state for item in items]
    return PageView(
        page.title,
        overall_summary(states),
        combined_state(states),
        items,
        open_incidents,
        now,
    )
