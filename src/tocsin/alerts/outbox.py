"""Queue alerts in the durable outbox, in the caller's transaction.

A flip that raises an alert writes one ``notifications`` row per channel of the monitor
in the same transaction as the flip itself, so "the monitor went down" and "an alert is
owed" are committed together or not at all.
"""

from __future__ import annotations

import uuid as uuid_module
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin import __version__
from tocsin.alerts.states import NotificationStatus
from tocsin.monitors.transitions import Flip
from tocsin.storage.records import MonitorRecord
from tocsin.storage.tables import monitor_channels, notifications


def alert_payload(
    monitor: MonitorRecord, flip: Flip, at: datetime, base_url: str, idempotency_key: str
) -> dict[str, Any]:
    """The JSON document a webhook receives for an alert."""
    alert = flip.alert
    assert alert is not None
    return {
        "event": alert.value,
        "idempotency_key": idempotency_key,
        "summary": f"{monitor.name} is {flip.new_state.value.upper()}: {flip.cause}",
        "monitor": {
            "uuid": monitor.uuid,
            "name": monitor.name,
            "slug": monitor.slug,
            "kind": monitor.kind.value,
            "tags": list(monitor.tags),
            "state": flip.new_state.value,
            "last_ping_at": (
                monitor.status.last_ping_at.isoformat() if monitor.status.last_ping_at else None
            ),
            "ping_url": f"{base_url}/ping/{monitor.uuid}",
        },
        "flip": {
            "old_state": flip.old_state.value,
            "new_state": flip.new_state.value,
            "cause": flip.cause,
            "at": at.isoformat(),
        },
        "sent_by": f"tocsin/{__version__}",
    }


async def queue_alerts(
    conn: AsyncConnection,
    flipped: list[tuple[MonitorRecord, Flip, int, datetime]],
    base_url: str,
) -> int:
    """Write a notification per channel for each ``(monitor, flip, flip_id, at)`` that alerts.

    One query for the channels and one insert, however many monitors flipped at once.
    Returns how many notifications were queued.
    """
    if not any(flip.alert is not None for _, flip, _, _ in flipped):
        return 0
    return await conn.run_sync(insert_alerts, flipped, base_url)


def insert_alerts(
    conn: Connection,
    flipped: list[tuple[MonitorRecord, Flip, int, datetime]],
    base_url: str,
) -> int:
    """``queue_alerts`` for a synchronous connection."""
    alerting = [item for item in flipped if item[1].alert is not None]
    if not alerting:
        return 0
    monitor_ids = sorted({monitor.id for monitor, _, _, _ in alerting})
    rows = conn.execute(
        select(monitor_channels.c.monitor_id, monitor_channels.c.channel_id).where(
            monitor_channels.c.monitor_id.in_(monitor_ids)
        )
    )
    channels_of: dict[int, list[int]] = {}
    for monitor_id, channel_id in rows.all():
        channels_of.setdefault(monitor_id, []).append(channel_id)
    values = []
    for monitor, flip, flip_id, at in alerting:
        assert flip.alert is not None
        for channel_id in channels_of.get(monitor.id, []):
            key = str(uuid_module.uuid4())
            values.append(
                {
                    "monitor_id": monitor.id,
                    "channel_id": channel_id,
                    "flip_id": flip_id,
                    "kind": flip.alert.value,
                    "idempotency_key": key,
                    "payload": alert_payload(monitor, flip, at, base_url, key),
                    "status": NotificationStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                }
            )
    if values:
        conn.execute(insert(notifications), values)
    return len(values)
