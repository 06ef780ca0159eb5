"""The monitor page: state timeline, charts, results, pings, flips and incidents.

The page's body below the heading is also served alone (``/ui/monitors/<uuid>/live``)
for htmx to poll every 5 seconds. Charts read the hourly aggregates; uptime adds the raw
results not rolled up yet (``probe_reads.uptime``), so a fresh failure shows at once.
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
from tocsin.server.dashboard.pages import render
from tocsin.server.storage.flips import list_flips
from tocsin.server.storage.incidents import list_incidents
from tocsin.server.storage.pings import list_pings
from tocsin.server.storage.probe_reads import (
    Window,
    hour_series,
    list_component_states,
    list_results,
    uptime,
)
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.web.api.auth import server_state

RECENT = 20  # results, pings, flips and incidents shown
CHART_WINDOW = Window.WEEK

router = APIRouter(include_in_schema=False)


async def _details(request: Request, monitor: MonitorRecord) -> dict[str, Any]:
    state = server_state(request)
    now = datetime.now(UTC)
    since = CHART_WINDOW.since(now)
    async with state.database.read() as conn:
        flips = await list_flips(conn, monitor.id, 100)
        incidents = await list_incidents(
            conn, state.project.id, monitor_id=monitor.id, limit=RECENT
        )
        pings = [] if monitor.kind.probed else await list_pings(conn, monitor.id, RECENT)
        results = await list_results(conn, monitor.id, RECENT) if monitor.kind.probed else []
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
        "flips": flips[:RECENT],
        "incidents": incidents,
        "pings": pings,
        "results": results,
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
    """The changing part of the monitor page, for htmx to poll."""
    return await _page(request, key, current, "partials/monitor_live.html")
