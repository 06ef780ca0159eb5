"""``/api/v1/incidents``: when each monitor was down, why, for how long, and how many
alerts went out about it; newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tocsin.server.storage.incidents import IncidentRecord, list_incidents
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.web.api.auth import AuthenticatedRoute, server_state
from tocsin.server.web.api.paging import DEFAULT_LIMIT, Cursor, Limit, cut, decode_cursor, next_url
from tocsin.server.web.api.schemas import INVALID, NOT_FOUND, usable_key

router = APIRouter(prefix="/incidents", tags=["incidents"], route_class=AuthenticatedRoute)


class IncidentOut(BaseModel):
    """One incident: a monitor's time down."""

    model_config = ConfigDict(extra="forbid")

    id: int
    monitor: str = Field(description="the monitor's name")
    monitor_uuid: str
    opened_at: datetime = Field(description="when it went down")
    resolved_at: datetime | None = Field(description="when it recovered; null while open")
    duration_seconds: float = Field(description="how long it lasted, or has lasted so far")
    cause: str = Field(description="what failed, as the down alert said")
    resolve_cause: str | None = Field(description="what ended it")
    alerts: int = Field(description="notifications queued about it, one per channel")
    children: list[str] = Field(
        description="monitors depending on this one (depends_on) that went down while it "
        "was down: listed here instead of paging on their own, in the order they went down"
    )

    @classmethod
    def of(cls, record: IncidentRecord, now: datetime) -> IncidentOut:
        """The API shape of a stored incident."""
        return cls(
            id=record.id,
            monitor=record.monitor_name,
            monitor_uuid=record.monitor_uuid,
            opened_at=record.opened_at,
            resolved_at=record.resolved_at,
            duration_seconds=record.duration_seconds(now),
            cause=record.cause,
            resolve_cause=record.resolve_cause,
            alerts=record.alerts,
            children=list(record.children),
        )


class IncidentPage(BaseModel):
    """``GET /incidents``: a page of incidents, newest first."""

    incidents: list[IncidentOut]
    next: str | None = Field(description="the next page's URL; null on the last page")


OpenOnly = Annotated[bool, Query(alias="open", description="only incidents still open")]
MonitorKey = Annotated[str | None, Query(description="only this monitor's (uuid or name)")]


@router.get("", response_model=IncidentPage, responses=INVALID | NOT_FOUND)
async def list_page(
    request: Request,
    response: Response,
    open_only: OpenOnly = False,
    monitor: MonitorKey = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> IncidentPage:
    """Incidents, newest first, a page at a time. An unknown monitor is a 404."""
    before = decode_cursor("incidents", cursor, int)
    state = server_state(request)
    async with state.database.read() as conn:
        monitor_id = None
        if monitor is not None:
            monitor_id = (
                await get_monitor(conn, state.project.id, usable_key(monitor, "monitor"))
            ).id
        found = await list_incidents(
            conn,
            state.project.id,
            open_only=open_only,
            monitor_id=monitor_id,
            before_id=before,
            limit=limit + 1,
        )
    page = cut("incidents", found, limit, lambda record: record.id)
    now = datetime.now(UTC)
    return IncidentPage(
        incidents=[IncidentOut.of(record, now) for record in page.items],
        next=next_url(request, response, page.next_cursor),
    )
