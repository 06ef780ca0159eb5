"""What the dashboard's incident pages read beyond ``incidents.list_incidents``: the alerts
each incident sent (the ``notifications`` rows pointing at it) and their delivery attempts.

A page of incidents costs one query for all their per-channel tallies; an incident's own
page one query for its alerts and one for their attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.domain.states import NotificationStatus
from tocsin.server.storage.deliveries import AttemptOutcome
from tocsin.server.storage.delivery_log import DeliveryRecord
from tocsin.server.storage.tables import channels, delivery_attempts, monitors, notifications

# An incident's page lists at most this many alerts and attempts (newest kept).
NOTICES_SHOWN = 200
ATTEMPTS_SHOWN = 500


@dataclass(frozen=True)
class ChannelTally:
    """How one channel's alerts about an incident fared: a count per status."""

    channel: str
    delivered: int
    pending: int
    failed: int


@dataclass(frozen=True)
class IncidentNotice:
    """One alert an incident sent to one channel (an outbox row)."""

    id: int
    kind: str  # down, up, reminder, escalation, held_release, flapping
    channel_name: str
    channel_kind: str
    # Kept for masking the error text for readers who may not see the channel's secrets.
    channel_settings: dict[str, Any]
    status: NotificationStatus
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None


async def channel_tallies(
    conn: AsyncConnection, incident_ids: Sequence[int]
) -> dict[int, list[ChannelTally]]:
    """For each of ``incident_ids`` that alerted, its channels by name with their alerts
    counted per status (one query for the whole page)."""
    if not incident_ids:
        return {}
    note = notifications.c
    query = (
        select(note.incident_id, channels.c.name, note.status, func.count())
        .join(channels, channels.c.id == note.channel_id)
        .where(note.incident_id.in_(sorted(set(incident_ids))))
        .group_by(note.incident_id, channels.c.name, note.status)
        .order_by(note.incident_id, channels.c.name)
    )
    counts: dict[int, dict[str, dict[str, int]]] = {}
    for incident_id, channel, status, count in (await conn.execute(query)).all():
        counts.setdefault(incident_id, {}).setdefault(channel, {})[status] = int(count)
    return {
        incident_id: [
            ChannelTally(
                channel,
                by_status.get(NotificationStatus.DELIVERED.value, 0),
                by_status.get(NotificationStatus.PENDING.value, 0),
                by_status.get(NotificationStatus.FAILED.value, 0),
            )
            for channel, by_status in per_channel.items()
        ]
        for incident_id, per_channel in counts.items()
    }


async def incident_notices(conn: AsyncConnection, incident_id: int) -> list[IncidentNotice]:
    """The alerts ``incident_id`` sent, oldest first (the newest ``NOTICES_SHOWN``)."""
    note = notifications.c
    query = (
        select(
            note.id,
            note.kind,
            channels.c.name,
            channels.c.kind,
            channels.c.settings,
            note.status,
            note.attempts,
            note.created_at,
            note.delivered_at,
            note.last_error,
        )
        .join(channels, channels.c.id == note.channel_id)
        .where(note.incident_id == incident_id)
        .order_by(note.id.desc())
        .limit(NOTICES_SHOWN)
    )
    rows = (await conn.execute(query)).all()
    return [
        IncidentNotice(
            id=row[0],
            kind=row[1],
            channel_name=row[2],
            channel_kind=row[3],
            channel_settings=dict(row[4]),
            status=NotificationStatus(row[5]),
            attempts=row[6],
            created_at=row[7],
            delivered_at=row[8],
            last_error=row[9],
        )
        for row in reversed(rows)
    ]


async def incident_attempts(conn: AsyncConnection, incident_id: int) -> list[DeliveryRecord]:
    """Every delivery attempt of ``incident_id``'s alerts, oldest first (the newest
    ``ATTEMPTS_SHOWN``), as ``delivery_log`` describes attempts."""
    attempt, note = delivery_attempts.c, notifications.c
    query = (
        select(
            attempt.id,
            attempt.notification_id,
            channels.c.uuid,
            channels.c.name,
            channels.c.kind,
            channels.c.settings,
            monitors.c.uuid,
            monitors.c.name,
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
        .where(note.incident_id == incident_id)
        .order_by(attempt.id.desc())
        .limit(ATTEMPTS_SHOWN)
    )
    rows = (await conn.execute(query)).all()
    return [
        DeliveryRecord(
            id=row[0],
            notification_id=row[1],
            channel_uuid=row[2],
            channel_name=row[3],
            channel_kind=row[4],
            channel_settings=dict(row[5]),
            monitor_uuid=row[6],
            monitor_name=row[7],
            kind=row[8],
            attempt=row[9],
            started_at=row[10],
            duration_ms=row[11],
            outcome=AttemptOutcome(row[12]),
            http_status=row[13],
            error=row[14],
        )
        for row in reversed(rows)
    ]
