"""The monitor page: state timeline, charts, results, pings, flips and incidents.

The page's body below the heading is also served alone (``/ui/monitors/<uuid>/live``)
for htmx to poll every 5 seconds. Charts read the hourly aggregates; uptime adds the raw
results not rolled up yet (``probe_reads.uptime``), so a fresh failure shows at once.

Checks, pings and state changes are paged by keyset cursor (``monitor_history``): each
list is also served alone (``/ui/monitors/<uuid>/results`` and so on) for its *Older* /
*Newer* links to swap in, and the poll sends every list's cursor back, so a page of
older rows stays put while the rest of the page updates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.server.dashboard.auth import CurrentUser, Viewer
from tocsin.server.dashboard.charts import Series, line_chart, spans_from_flips, state_timeline
from tocsin.server.dashboard.monitor_forms import find_monitor
from tocsin.server.dashboard.monitor_history import (
    HistoryPage,
    Section,
    newest_page,
    read_page,
)
from tocsin.server.dashboard.pages import render
from tocsin.server.storage.history_pages import flips_page
from tocsin.server.storage.incidents import list_incidents
from tocsin.server.storage.probe_reads import (
    Window,
    hour_series,
    list_component_states,
    uptime,
)
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.web.api.auth import server_state

RECENT = 20  # incidents shown
TIMELINE_FLIPS = 100  # the newest flips the state timeline draws from
CHART_WINDOW = Window.WEEK

router = APIRouter(include_in_schema=False)


def _sections(monitor: MonitorRecord) -> tuple[Section, ...]:
    listed = Section.RESULTS if monitor.kind.probed else Section.PINGS
    return (Section.FLIPS, listed)


async def _details(request: Request, monitor: MonitorRecord) -> dict[str, Any]:
    state = server_state(request)
    now = datetime.now(UTC)
    since = CHART_WINDOW.since(now)
    params = request.query_params
    async with state.database.read() as conn:
        flips = await flips_page(conn, monitor.id, TIMELINE_FLIPS)
        incidents = await list_incidents(
            conn, state.project.id, monitor_id=monitor.id, limit=RECENT
        )
        pages: dict[str, HistoryPage[Any]] = {}
        for section in _sections(monitor):
            if section is Section.FLIPS and not params.get(section.value):
                pages[section.value] = newest_page(section, flips)
            else:
                pages[section.value] = await read_page(
                    conn, section, monitor.id, params.get(section.value)
                )
        tallies = await uptime(conn, monitor.id, now) if monitor.kind.probed else {}
        hours = await hour_series(conn, monitor.id, since) if monitor.kind.probed else []
        components = (await list_component_states(conn, [monitor.id])).get(monitor.id, [])
        component_hours = {
            component.key: await hour_series(conn, monitor.id, since, component.key)
            for component in components
        }
    in_window = [(f.created_at, f.old_state, f.new_state) for f in reversed(flips)]
    in_window = [flip for flip in in_window if flip[0] >= since]
    timeline = state_timeline(
        spans_from_flips(in_window, monitor.status.state.value, since, now),
        since,
        now,
        f"State over the last {CHART_WINDOW.value}",
    )
    latency = line_chart(
        [
            Series(
                "p50",
                "line-p50",
                [(h.hour, h.latency_p50) for h in hours if h.latency_p50 is not None],
            ),
            Series(
                "p95",
                "line-p95",
                [(h.hour, h.latency_p95) for h in hours if h.latency_p95 is not None],
            ),
        ],
        since,
        now,
        f"Response time p50 and p95 per hour over the last {CHART_WINDOW.value}",
        "ms",
    )
    component_charts = {
        key: line_chart(
            [
                Series(
                    "last",
                    "line-p50",
                    [(h.hour, h.value_last) for h in rows if h.value_last is not None],
                ),
                Series(
                    "max",
                    "line-p95",
                    [(h.hour, h.value_max) for h in rows if h.value_max is not None],
                ),
            ],
            since,
            now,
            f"{key}: value per hour over the last {CHART_WINDOW.value}",
            "",
        )
        for key, rows in component_hours.items()
    }
    return {
        "monitor": monitor,
        "pages": pages,
        "incidents": incidents,
        "uptime": {window: tallies[window].get("") for window in tallies},
        "timeline": timeline,
        "latency_chart": latency,
        "components": components,
        "component_charts": component_charts,
        "windows": list(Window),
        "chart_window": CHART_WINDOW.value,
    }


async def _page(request: Request, key: str, current: CurrentUser, template: str) -> Response:
    monitor = await find_monitor(request, key)
    return render(request, template, current=current, **await _details(request, monitor))


@router.get("/ui/monitors/{key}")
async def detail(request: Request, key: str, current: Viewer) -> Response:
    """One monitor with its history."""
    return await _page(request, key, current, "monitor_detail.html")


@router.get("/ui/monitors/{key}/live")
async def live(request: Request, key: str, current: Viewer) -> Response:
    """The changing part of the monitor page, for htmx to poll; ``results``, ``pings`` and
    ``flips`` are the cursors of the pages its lists show."""
    return await _page(request, key, current, "partials/monitor_live.html")


async def _section(request: Request, key: str, current: CurrentUser, section: Section) -> Response:
    monitor = await find_monitor(request, key)
    state = server_state(request)
    async with state.database.read() as conn:
        page = await read_page(conn, section, monitor.id, request.query_params.get(section.value))
    template = f"partials/monitor_{section.value}.html"
    return render(request, template, current=current, monitor=monitor, page=page)


@router.get("/ui/monitors/{key}/results")
async def results(request: Request, key: str, current: Viewer) -> Response:
    """One page of the monitor's checks (``?results=<cursor>``), for the pager to swap in."""
    return await _section(request, key, current, Section.RESULTS)


@router.get("/ui/monitors/{key}/pings")
async def pings(request: Request, key: str, current: Viewer) -> Response:
    """One page of the monitor's pings (``?pings=<cursor>``)."""
    return await _section(request, key, current, Section.PINGS)


@router.get("/ui/monitors/{key}/flips")
async def flips(request: Request, key: str, current: Viewer) -> Response:
    """One page of the monitor's state changes (``?flips=<cursor>``)."""
    return await _section(request, key, current, Section.FLIPS)
