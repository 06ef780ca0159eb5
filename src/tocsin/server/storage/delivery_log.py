"""Reading the delivery history: a project's attempts with their channel, monitor and alert.

``deliveries.list_attempts`` is the worker's bare view of the table; this is what people
read (``GET /api/v1/deliveries``, ``tocsin deliveries``): each attempt with the names it
concerns, newest first, filtered by channel, monitor or notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.deliveries import AttemptOutcome
from tocsin.server.storage.tables import channels, delivery_attempts, monitors, notifications


@dataclass(frozen=True)
class DeliveryRecord:
    """One stored attempt and what it was about."""

    id: int
    notification_id: int
    channel_uuid: str
    channel_name: str
    channel_kind: str
    # Kept for masking the error text for readers who may not see the channel's secrets.
    channel_settings: dict[str, Any]
    monitor_uuid: str
    monitor_name: str
    # The notification's kind: down or up.
    kind: str
    attempt: int
    started_at: datetime
    duration_ms: int
    outcome: AttemptOutcome
    http_status: int | None
    error: str | None


async def list_deliveries(
    conn: AsyncConnection,
    project_id: int,
    *,
    channel_id: int | None = None,
    monitor_id: int | None = None,
    notification_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[DeliveryRecord]:
    """The project's attempts, newest first (by id), at most ``limit``, optionally of one
    channel, monitor and/or notification; ``before_id`` starts after a previous page."""
    attempt, note = delivery_attempts.c, notifications.c
    query = (
        select(
            attempt.id,
            attempt.notification_id,
            channels.c.uuid.label("channel_uuid"),
            channels.c.name.label("channel_name"),
            channels.c.kind.label("channel_kind"),
            channels.c.settings.label("channel_settings"),
            monitors.c.uuid.label("monitor_uuid"),
            monitors.c.name.label("monitor_name"),
            note.kind,
            attempt.attempt,
            attempt.started_at,
            attempt.duration_ms,
            attempt.outcome,
            attempt.http_status,
            attempt.error,
        )
        .join(notifications, note.id == attempt.notification_id)
        .join(channels, channels.c.id == attempt.channel_id)
        .join(monitors, monitors.c.id == note.monitor_id)
        .where(channels.c.project_id == project_id)
        .order_by(attempt.id.desc())
        .limit(limit)
    )
    if channel_id is not None:
        query = query.where(attempt.channel_id == channel_id)
    if monitor_id is not None:
        query = query.where(note.monitor_id == monitor_id)
    if notification_id is not None:
        query = query.where(attempt.notification_id == notification_id)
    if before_id is not None:
        query = query.where(attempt.id < before_id)
    rows = (await conn.execute(query)).all()
    return [
        DeliveryRecord(
            id=row.id,
            notification_id=row.notification_id,
            channel_uuid=row.channel_uuid,
            channel_name=row.channel_name,
            channel_kind=row.channel_kind,
            channel_settings=dict(row.channel_settings),
            monitor_uuid=row.monitor_uuid,
            monitor_name=row.monitor_name,
            kind=row.kind,
            attempt=row.attempt,
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            outcome=AttemptOutcome(row.outcome),
            http_status=row.http_status,
            error=row.error,
        )
        for row in rows
    ]
