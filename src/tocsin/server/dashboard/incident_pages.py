"""The incidents pages: every incident (open ones first, then resolved ones, paged by
keyset), and one incident with the alerts it sent and their delivery attempts.

Both are refreshed in place by htmx: the list's section (``/ui/incidents/rows``) and an
incident's body (``/ui/incidents/<id>/live``) are polled every 5 seconds, as the monitor
pages are. Error texts of deliveries are masked for read-only users, as the API masks them
for read-only keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from tocsin.durations import describe_span
from tocsin.errors import ValidationError
from tocsin.server.dashboard.auth import CurrentUser, PageError, Viewer
from tocsin.server.dashboard.pages import render
from tocsin.server.dashboard.relative_time import relative, utc_text
from tocsin.server.domain.states import NotificationStatus
from tocsin.server.storage.incident_reads import (
    IncidentNotice,
    channel_tallies,
    incident_attempts,
    incident_notices,
)
from tocsin.server.storage.incidents import IncidentRecord, list_incidents
from tocsin.server.storage.shapes import DeliveryAttemptOut, mask_error
from tocsin.server.web.api.auth import server_state
from tocsin.server.web.api.paging import MAX_ID, Page, cut, decode_cursor

PAGE_SIZE = 50
PATH = "/ui/incidents"
_LISTING = "incidents"  # the API's cursors, so a cursor of GET /api/v1/incidents works too

router = APIRouter(include_in_schema=False)


class Show(StrEnum):
    """Which incidents the list shows."""

    ALL = "all"  # open ones, then the newest resolved ones
    OPEN = "open"
    RESOLVED = "resolved"


def _show(text: str) -> Show:
    return Show(text) if text in {show.value for show in Show} else Show.ALL


def _cursor(text: str | None) -> int | None:
    bad = PageError(400, "Bad page link", "This page link is not one of this list's: start again.")
    try:
        before = decode_cursor(_LISTING, text or None, int)
    except ValidationError as exc:
        raise bad from exc
    if before is not None and not 0 < before <= MAX_ID:
        raise bad
    return before


async def _page(
    conn: AsyncConnection, project_id: int, *, open_only: bool, before: int | None
) -> Page[IncidentRecord]:
    found = await list_incidents(
        conn,
        project_id,
        open_only=open_only,
        resolved_only=not open_only,
        before_id=before,
        limit=PAGE_SIZE + 1,
    )
    return cut(_LISTING, found, PAGE_SIZE, lambda record: record.id)


def _times(now: datetime) -> dict[str, Any]:
    """What templates need to show a time: UTC text, and how long ago or ahead."""
    return {
        "now": now,
        "utc": utc_text,
        "ago": lambda at: relative(at, now),
        "span": lambda seconds: describe_span(timedelta(seconds=seconds)),
    }


async def _list(request: Request, current: CurrentUser, template: str) -> Response:
    params = request.query_params
    show = _show(params.get("show", ""))
    before = _cursor(params.get("cursor")) if show is not Show.ALL else None
    open_page = resolved_page = None
    state = server_state(request)
    async with state.database.read() as conn:
        if show is not Show.RESOLVED:
            open_page = await _page(conn, state.project.id, open_only=True, before=before)
        if show is not Show.OPEN:
            resolved_page = await _page(conn, state.project.id, open_only=False, before=before)
        shown = [
            *(open_page.items if open_page else ()),
            *(resolved_page.items if resolved_page else ()),
        ]
        tallies = await channel_tallies(conn, [incident.id for incident in shown])
    this_page = {"show": show.value} if show is not Show.ALL else {}
    if before is not None:
        this_page["cursor"] = params.get("cursor", "")
    return render(
        request,
        template,
        current=current,
        show=show.value,
        shows=[s.value for s in Show],
        open_incidents=open_page.items if open_page else None,
        resolved=resolved_page.items if resolved_page else None,
        more_open=_next(Show.OPEN, open_page),
        more_resolved=_next(Show.RESOLVED, resolved_page),
        paged=before is not None,
        this_page=urlencode(this_page),
        tallies=tallies,
        **_times(datetime.now(UTC)),
    )


def _next(show: Show, page: Page[IncidentRecord] | None) -> str | None:
    """The query of the page after ``page`` (``None`` on the last)."""
    if page is None or page.next_cursor is None:
        return None
    return urlencode({"show": show.value, "cursor": page.next_cursor})


@router.get(PATH)
async def incidents_page(request: Request, current: Viewer) -> Response:
    """Open incidents, then the newest resolved ones; ``show`` picks one kind and pages."""
    return await _list(request, current, "incidents.html")


@router.get(PATH + "/rows")
async def incident_rows(request: Request, current: Viewer) -> Response:
    """The list's section alone, for htmx to poll."""
    return await _list(request, current, "partials/incident_rows.html")


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an incident's timeline: it opened, an alert went out, it resolved."""

    at: datetime
    what: str  # opened, resolved, or the alert's kind
    notice: IncidentNotice | None = None
    error: str | None = None  # the alert's last error, masked for read-only users


def _timeline(
    incident: IncidentRecord, notices: Sequence[IncidentNotice], secrets: bool
) -> list[TimelineEntry]:
    entries = [TimelineEntry(incident.opened_at, "opened")]
    for notice in notices:
        error = notice.last_error
        if error is not None and not secrets:
            error = mask_error(notice.channel_kind, notice.channel_settings, error)
        entries.append(TimelineEntry(notice.created_at, notice.kind, notice, error))
    if incident.resolved_at is not None:
        entries.append(TimelineEntry(incident.resolved_at, "resolved"))
    return sorted(entries, key=lambda entry: entry.at)  # stable: "opened" before its alerts


async def _detail(
    request: Request, incident_id: int, current: CurrentUser, template: str
) -> Response:
    missing = PageError(404, "Not found", "There is no such incident.")
    if incident_id > MAX_ID:
        raise missing
    state = server_state(request)
    async with state.database.read() as conn:
        found = await list_incidents(conn, state.project.id, incident_id=incident_id, limit=1)
        if not found:
            raise missing
        notices = await incident_notices(conn, incident_id)
        attempts = await incident_attempts(conn, incident_id)
    incident = found[0]
    secrets = current.user.role.can_write
    by_channel: dict[str, list[DeliveryAttemptOut]] = {}
    for record in attempts:
        by_channel.setdefault(record.channel_name, []).append(
            DeliveryAttemptOut.of(record, secrets=secrets)
        )
    now = datetime.now(UTC)
    pending = any(n.status is NotificationStatus.PENDING for n in notices)
    return render(
        request,
        template,
        current=current,
        incident=incident,
        duration=incident.duration_seconds(now),
        timeline=_timeline(incident, notices, secrets),
        attempts=by_channel,
        live=incident.resolved_at is None or pending,
        **_times(now),
    )


@router.get(PATH + "/{incident_id:int}")
async def incident_page(request: Request, incident_id: int, current: Viewer) -> Response:
    """One incident: its cause, a timeline of the alerts it sent, and each channel's
    delivery attempts."""
    return await _detail(request, incident_id, current, "incident_detail.html")


@router.get(PATH + "/{incident_id:int}/live")
async def incident_live(request: Request, incident_id: int, current: Viewer) -> Response:
    """The changing part of an incident's page, for htmx to poll."""
    return await _detail(request, incident_id, current, "partials/incident_live.html")
