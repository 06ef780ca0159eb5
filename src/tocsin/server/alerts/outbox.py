"""Queue alerts in the durable outbox, in the caller's transaction.

A flip that raises an alert writes one ``notifications`` row per channel of the monitor
in the same transaction as the flip itself, so "the monitor went down" and "an alert is
owed" are committed together or not at all. The rows are written already claimed by the
writing process, which hands them straight to its delivery worker: no second
transaction and no polling stand between a flip and its alert. If the process dies
before sending, the claim expires and any server sends the alert.
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tocsin import __version__
from tocsin.server.domain.states import CLAIM_SECONDS, NotificationStatus
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import channels, monitor_channels


@dataclass(frozen=True)
class ClaimedAlert:
    """A notification this process owns and should send now."""

    id: int
    kind: str
    settings: dict[str, Any]
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int


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


def insert_alerts(
    conn: Connection,
    flipped: list[tuple[MonitorRecord, Flip, int, datetime]],
    base_url: str,
) -> list[ClaimedAlert]:
    """Write a notification per channel for each ``(monitor, flip, flip_id, at)`` that alerts.

    One query for the channels and one insert, however many monitors flipped at once.
    Returns the notifications, claimed for this process, for its delivery worker.
    """
    alerting = [item for item in flipped if item[1].alert is not None]
    if not alerting:
        return []
    monitor_ids = sorted({monitor.id for monitor, _, _, _ in alerting})
    found = conn.execute(
        select(monitor_channels.c.monitor_id, channels.c.id, channels.c.kind, channels.c.settings)
        .join(channels, channels.c.id == monitor_channels.c.channel_id)
        .where(monitor_channels.c.monitor_id.in_(monitor_ids))
        .order_by(channels.c.id)
    )
    channels_of: dict[int, list[tuple[int, str, dict[str, Any]]]] = {}
    for monitor_id, channel_id, kind, settings in found.all():
        channels_of.setdefault(monitor_id, []).append((channel_id, kind, dict(settings)))
    rows: list[tuple[Any, ...]] = []
    claimed: list[tuple[str, dict[str, Any], dict[str, Any], str]] = []
    for monitor, flip, flip_id, at in alerting:
        assert flip.alert is not None
        for channel_id, kind, settings in channels_of.get(monitor.id, []):
            key = str(uuid_module.uuid4())
            payload = alert_payload(monitor, flip, at, base_url, key)
            rows.append(
                (
                    monitor.id,
                    channel_id,
                    flip_id,
                    flip.alert.value,
                    key,
                    payload,
                    NotificationStatus.PENDING.value,
                    1,
                    at,
                    at + timedelta(seconds=CLAIM_SECONDS),
                    at,
                )
            )
            claimed.append((kind, settings, payload, key))
    ids = statements_for(conn).insert_notifications(conn, rows)
    return [
        ClaimedAlert(notification_id, kind, settings, payload, key, 1)
        for notification_id, (kind, settings, payload, key) in zip(ids, claimed, strict=True)
    ]
