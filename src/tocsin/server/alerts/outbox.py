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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from tocsin import __version__
from tocsin.server.domain.ping_urls import ping_url
from tocsin.server.domain.states import CLAIM_SECONDS, NotificationStatus
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.hot_rows import NotificationRow
from tocsin.server.storage.notifications import alert_channels, insert_notifications
from tocsin.server.storage.rows import MonitorRecord


@dataclass(frozen=True)
class ClaimedAlert:
    """A notification this process owns and should send now."""

    id: int
    channel_id: int
    kind: str
    settings: dict[str, Any]
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int


def alert_payload(
    monitor: MonitorRecord,
    flip: Flip,
    at: datetime,
    base_url: str,
    idempotency_key: str,
    probe: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document a webhook receives for an alert.

    A probed monitor's alert carries ``probe``: the result that flipped it (verdict,
    status code, response time, the failed assertions and components with their values);
    its flip's cause already says what broke, e.g. ``status (503) == 200``.
    """
    alert = flip.alert
    assert alert is not None
    payload: dict[str, Any] = {
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
            "ping_url": ping_url(base_url, monitor.uuid),
        },
        "flip": {
            "old_state": flip.old_state.value,
            "new_state": flip.new_state.value,
            "cause": flip.cause,
            "at": at.isoformat(),
        },
        "sent_by": f"tocsin/{__version__}",
    }
    if monitor.kind.probed:
        del payload["monitor"]["ping_url"]
        del payload["monitor"]["last_ping_at"]
        payload["monitor"]["last_result_at"] = at.isoformat()
        if probe is not None:
            payload["probe"] = dict(probe)
    return payload


def insert_alerts(
    conn: Connection,
    flipped: list[tuple[MonitorRecord, Flip, int, datetime]],
    base_url: str,
    probes: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[ClaimedAlert]:
    """Write a notification per channel for each ``(monitor, flip, flip_id, at)`` that alerts.

    ``probes`` maps a probed monitor's id to what its payload says about the result.

    One query for the channels and one insert, however many monitors flipped at once.
    Returns the notifications, claimed for this process, for its delivery worker.
    """
    alerting = [item for item in flipped if item[1].alert is not None]
    if not alerting:
        return []
    channels_of = alert_channels(conn, (monitor.id for monitor, _, _, _ in alerting))
    rows: list[NotificationRow] = []
    claimed: list[tuple[str, dict[str, Any]]] = []
    for monitor, flip, flip_id, at in alerting:
        assert flip.alert is not None
        for channel in channels_of.get(monitor.id, []):
            key = str(uuid_module.uuid4())
            rows.append(
                NotificationRow(
                    monitor_id=monitor.id,
                    channel_id=channel.id,
                    flip_id=flip_id,
                    kind=flip.alert.value,
                    idempotency_key=key,
                    payload=alert_payload(
                        monitor, flip, at, base_url, key, (probes or {}).get(monitor.id)
                    ),
                    status=NotificationStatus.PENDING.value,
                    attempts=1,
                    next_attempt_at=at,
                    claimed_until=at + timedelta(seconds=CLAIM_SECONDS),
                    created_at=at,
                )
            )
            claimed.append((channel.kind, channel.settings))
    ids = insert_notifications(conn, rows)
    return [
        ClaimedAlert(
            id=notification_id,
            channel_id=row.channel_id,
            kind=kind,
            settings=settings,
            payload=row.payload,
            idempotency_key=row.idempotency_key,
            attempts=row.attempts,
        )
        for notification_id, row, (kind, settings) in zip(ids, rows, claimed, strict=True)
    ]
