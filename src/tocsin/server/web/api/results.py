"""``/api/v1/monitors/{key}/results|uptime|latency|components``: what probes recorded.

Results are the raw ones (kept for ``TOCSIN_RESULT_RETENTION``), newest first; uptime
and latency come from the hourly aggregates (kept 400 days) plus the results not rolled
up yet. A heartbeat monitor has none of these: its lists are empty.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.history_pages import results_page
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.storage.probe_reads import (
    MONITOR,
    Window,
    hour_series,
    list_component_states,
    uptime,
)
from tocsin.server.storage.probe_rows import Tally
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.shapes import ComponentOut, HourOut, ResultOut, UptimeOut
from tocsin.server.web.api.auth import AuthenticatedRoute, server_state
from tocsin.server.web.api.paging import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    cut,
    decode_time_cursor,
    next_url,
    time_key,
)
from tocsin.server.web.api.schemas import INVALID, NOT_FOUND, usable_key

router = APIRouter(prefix="/monitors", tags=["results"], route_class=AuthenticatedRoute)

_NEXT = "the next page's URL (path and query); null on the last page"


class ResultPage(BaseModel):
    """``GET /monitors/{key}/results``: a page of probe results, newest first."""

    results: list[ResultOut]
    next: str | None = Field(description=_NEXT)


class ComponentUptime(BaseModel):
    """One component's uptime per window."""

    key: str
    windows: list[UptimeOut]


class UptimeReport(BaseModel):
    """``GET /monitors/{key}/uptime``: the monitor's and each component's uptime."""

    windows: list[UptimeOut] = Field(description="24h, 7d and 30d")
    components: list[ComponentUptime] = Field(description="app monitors, by key")


class HourSeries(BaseModel):
    """``GET /monitors/{key}/latency``: hourly aggregates for charts, oldest first."""

    range: Window
    component: str | None = Field(description="the component asked for; null: the monitor")
    hours: list[HourOut] = Field(description="completed hours that had results")


class ComponentList(BaseModel):
    """``GET /monitors/{key}/components``: an app monitor's components, by key."""

    components: list[ComponentOut]


async def _monitor(request: Request, conn: AsyncConnection, key: str) -> MonitorRecord:
    return await get_monitor(conn, server_state(request).project.id, usable_key(key, "monitor"))


@router.get("/{key}/results", response_model=ResultPage, responses=NOT_FOUND | INVALID)
async def results(
    request: Request,
    response: Response,
    key: str,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ResultPage:
    """The monitor's probe results, newest first (by start time), a page at a time."""
    before = decode_time_cursor("results", cursor)
    async with server_state(request).database.read() as conn:
        monitor = await _monitor(request, conn, key)
        found = await results_page(conn, monitor.id, limit + 1, before=before)
    page = cut("results", found, limit, lambda r: time_key(r.started_at, r.id))
    return ResultPage(
        results=[ResultOut.of(result) for result in page.items],
        next=next_url(request, response, page.next_cursor),
    )


@router.get("/{key}/uptime", response_model=UptimeReport, responses=NOT_FOUND)
async def uptime_report(request: Request, key: str) -> UptimeReport:
    """Uptime over the last 24 hours, 7 and 30 days, of the monitor and of each component:
    ``100 * (1 - failures / checks)``, where ``warn`` counts as up."""
    async with server_state(request).database.read() as conn:
        monitor = await _monitor(request, conn, key)
        tallies = await uptime(conn, monitor.id, datetime.now(UTC))
    keys = sorted({k for by_key in tallies.values() for k in by_key} - {MONITOR})

    def windows(component: str) -> list[UptimeOut]:
        return [UptimeOut.of(w.value, tallies[w].get(component, Tally())) for w in Window]

    return UptimeReport(
        windows=windows(MONITOR),
        components=[ComponentUptime(key=k, windows=windows(k)) for k in keys],
    )


@router.get("/{key}/latency", response_model=HourSeries, responses=NOT_FOUND | INVALID)
async def latency(
    request: Request,
    key: str,
    span: Annotated[Window, Query(alias="range", description="24h, 7d or 30d")] = Window.DAY,
    component: Annotated[
        str | None,
        Query(
            description="a component key (app monitors): its hourly values instead",
            max_length=200,
            pattern="^[^\\u0000]+$",
        ),
    ] = None,
) -> HourSeries:
    """Hourly response-time percentiles (p50, p95, max) and counts, for charts; with
    ``component``, that component's hourly value min/max/last and counts."""
    now = datetime.now(UTC)
    async with server_state(request).database.read() as conn:
        monitor = await _monitor(request, conn, key)
        hours = await hour_series(conn, monitor.id, span.since(now), component or MONITOR)
    return HourSeries(range=span, component=component, hours=[HourOut.of(h) for h in hours])


@router.get("/{key}/components", response_model=ComponentList, responses=NOT_FOUND)
async def components(request: Request, key: str) -> ComponentList:
    """The current state of each component of an ``app`` monitor (empty for other kinds)."""
    async with server_state(request).database.read() as conn:
        monitor = await _monitor(request, conn, key)
        found = await list_component_states(conn, [monitor.id])
    return ComponentList(components=[ComponentOut.of(c) for c in found.get(monitor.id, [])])
