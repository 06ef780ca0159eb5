"""The home page: the monitor list, filtered and paged, refreshed in place by htmx.

Each page reads its monitors with one query, then their uptime and latency with at most
one query each (``page_reads``; uptime is kept for a minute). The table is also served
alone (``/ui/monitors/rows``) for htmx to poll every 5 seconds, so states change without
a reload.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.server.dashboard.auth import CurrentUser, Viewer
from tocsin.server.dashboard.charts import sparkline
from tocsin.server.dashboard.page_reads import list_figures
from tocsin.server.dashboard.pages import render
from tocsin.server.domain.states import MonitorKind, MonitorState
from tocsin.server.storage.monitors import list_monitors
from tocsin.server.storage.probe_reads import Window
from tocsin.server.web.api.auth import server_state

PAGE_SIZE = 50
_FILTERS = ("q", "tag", "kind", "state")

router = APIRouter(include_in_schema=False)


def _kind(text: str) -> MonitorKind | None:
    return MonitorKind(text) if text in {k.value for k in MonitorKind} else None


def _state(text: str) -> MonitorState | None:
    return MonitorState(text) if text in {s.value for s in MonitorState} else None


async def _list_page(request: Request, current: CurrentUser, template: str) -> Response:
    params = request.query_params
    filters = {key: params.get(key, "").strip()[:200] for key in _FILTERS}
    after = params.get("after") or None
    state = server_state(request)
    async with state.database.read() as conn:
        monitors = await list_monitors(
            conn,
            state.project.id,
            after=after,
            limit=PAGE_SIZE + 1,
            tag=filters["tag"] or None,
            kind=_kind(filters["kind"]),
            state=_state(filters["state"]),
            search=filters["q"] or None,
        )
        more = len(monitors) > PAGE_SIZE
        monitors = monitors[:PAGE_SIZE]
        figures = await list_figures(
            conn, [m.id for m in monitors if m.kind.probed], datetime.now(UTC)
        )
    query = {key: value for key, value in filters.items() if value}
    sparklines = {
        monitor_id: sparkline(figure.latency, "Response time over the last 24 hours")
        for monitor_id, figure in figures.items()
    }
    this_page = urlencode(query | ({"after": after} if after else {}))
    return render(
        request,
        template,
        current=current,
        monitors=monitors,
        figures=figures,
        sparklines=sparklines,
        windows=list(Window),
        filters=filters,
        kinds=[kind.value for kind in MonitorKind],
        states=[s.value for s in MonitorState],
        next_page=urlencode(query | {"after": monitors[-1].name}) if more else None,
        first_page=urlencode(query),
        this_page=this_page,
        paged=after is not None,
        filtered=bool(query),
    )


@router.get("/")
async def home(request: Request, current: Viewer) -> Response:
    """The monitor list; ``after`` (a monitor name) is the keyset cursor of the next page."""
    return await _list_page(request, current, "home.html")


@router.get("/ui/monitors/rows")
async def rows(request: Request, current: Viewer) -> Response:
    """The list's table alone, for htmx to poll."""
    return await _list_page(request, current, "partials/monitor_rows.html")
