"""The public view of a status page: read what it shows and reduce it to public facts.

Only the names chosen for the page, state words, daily uptime and incident start times
leave this module: never a monitor's name, URL, settings, results or error text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.dashboard.past_days import PastDays
from tocsin.server.dashboard.public_state import (
    DayBar,
    PublicState,
    bars_from_tallies,
    combined_state,
    component_state,
    format_percent,
    heartbeat_uptime,
    monitor_state,
    overall_summary,
    total_from_tallies,
    window_days,
    window_start,
)
from tocsin.server.domain.states import MonitorKind
from tocsin.server.storage.probe_reads import list_component_states
from tocsin.server.storage.status_pages import StatusPageRecord, monitors_by_id
from tocsin.server.storage.uptime_days import flips_since, open_incident_times


@dataclass(frozen=True)
class ItemView:
    """One line of the public page."""

    name: str
    state: PublicState
    bars: list[DayBar]
    uptime: str  # "99.95%" over the window, or "no data"


@dataclass(frozen=True)
class IncidentView:
    """An open incident: which of the page's items it touches, and since when."""

    names: list[str]
    since: datetime


@dataclass(frozen=True)
class PageView:
    """Everything the public page shows."""

    title: str
    summary: str
    state: PublicState
    items: list[ItemView]
    incidents: list[IncidentView]


async def page_view(
    conn: AsyncConnection, page: StatusPageRecord, now: datetime, past: PastDays
) -> PageView:
    """Read the page's monitors, components, uptime and incidents as of ``now`` (finished
    days through ``past``)."""
    monitor_ids = {item.monitor_id for item in page.items}
    found = await monitors_by_id(conn, monitor_ids)
    probed = {i for i, m in found.items() if m.kind is not MonitorKind.HEARTBEAT}
    components = await list_component_states(conn, [i for i in probed if found[i].kind == "app"])
    start = window_start(now)
    probed_keys = [(i.monitor_id, i.component_key) for i in page.items if i.monitor_id in probed]
    tallies = await past.tallies(conn, probed_keys, start, now)
    flips = await flips_since(conn, monitor_ids - probed, start)
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
        if monitor.id in probed:
            counted = tallies.get((monitor.id, item.component_key), {})
            bars, total = bars_from_tallies(days, counted), total_from_tallies(counted)
        else:
            history = flips.get(monitor.id, [])
            bars, total = heartbeat_uptime(
                monitor.created_at, monitor.status.state, history, days, now
            )
        uptime = "no data" if total is None else format_percent(total)
        items.append(ItemView(item.display_name, state, bars, uptime))
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
    )
