"""``/api/v1/deliveries``: every attempt to deliver an alert, newest first.

Read-only keys may read them; for those, error texts are masked as channels are (URLs
keep only their host, a channel's secret and header values are hidden), since a
receiver's error may quote the URL that holds its token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tocsin.server.storage.channels import get_channel
from tocsin.server.storage.delivery_log import list_deliveries
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.storage.shapes import DeliveryAttemptOut, DeliveryPage
from tocsin.server.web.api.auth import AuthenticatedRoute, may_see_secrets, server_state
from tocsin.server.web.api.paging import (
    DEFAULT_LIMIT,
    MAX_ID,
    Cursor,
    Limit,
    cut,
    decode_cursor,
    next_url,
)
from tocsin.server.web.api.schemas import INVALID, NOT_FOUND, usable_key

router = APIRouter(prefix="/deliveries", tags=["deliveries"], route_class=AuthenticatedRoute)

ChannelKey = Annotated[str | None, Query(description="only this channel's (uuid or name)")]
MonitorKey = Annotated[str | None, Query(description="only this monitor's (uuid or name)")]
NotificationId = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="only this alert's: a `notification_id`")
]


@router.get("", response_model=DeliveryPage, responses=INVALID | NOT_FOUND)
async def list_page(
    request: Request,
    response: Response,
    channel: ChannelKey = None,
    monitor: MonitorKey = None,
    notification: NotificationId = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> DeliveryPage:
    """Delivery attempts, newest first, a page at a time: when each alert was tried,
    where, and what the receiver answered. An unknown channel or monitor is a 404."""
    before = decode_cursor("deliveries", cursor, int)
    state = server_state(request)
    project_id = state.project.id
    async with state.database.read() as conn:
        channel_id = monitor_id = None
        if channel is not None:
            channel_id = (await get_channel(conn, project_id, usable_key(channel, "channel"))).id
        if monitor is not None:
            monitor_id = (await get_monitor(conn, project_id, usable_key(monitor, "monitor"))).id
        found = await list_deliveries(
            conn,
            project_id,
            channel_id=channel_id,
            monitor_id=monitor_id,
            notification_id=notification,
            before_id=before,
            limit=limit + 1,
        )
    page = cut("deliveries", found, limit, lambda record: record.id)
    secrets = may_see_secrets(request)
    return DeliveryPage(
        deliveries=[DeliveryAttemptOut.of(record, secrets=secrets) for record in page.items],
        next=next_url(request, response, page.next_cursor),
    )
