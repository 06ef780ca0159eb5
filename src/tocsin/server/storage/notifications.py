"""The outbox insert: the channels a flip alerts, and the ``notifications`` rows it owes.

Synchronous, for the engines' write transactions (``Database.run_write``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tocsin.server.storage.hot_rows import NewNotification, NotificationRow
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.tables import channels, monitor_channels


class AlertChannel(NamedTuple):
    """A channel a monitor alerts, with what its sender needs."""

    id: int
    kind: str
    settings: dict[str, Any]


def alert_channels(conn: Connection, monitor_ids: Iterable[int]) -> dict[int, list[AlertChannel]]:
    """The channels of each monitor, in channel id order (monitors without any are absent)."""
    query = (
        select(monitor_channels.c.monitor_id, channels.c.id, channels.c.kind, channels.c.settings)
        .join(channels, channels.c.id == monitor_channels.c.channel_id)
        .where(monitor_channels.c.monitor_id.in_(sorted(set(monitor_ids))))
        .order_by(channels.c.id)
    )
    found: dict[int, list[AlertChannel]] = {}
    for monitor_id, channel_id, kind, settings in conn.execute(query).all():
        found.setdefault(monitor_id, []).append(AlertChannel(channel_id, kind, dict(settings)))
    return found


def insert_notifications(
    conn: Connection, rows: Sequence[NotificationRow]
) -> list[NewNotification]:
    """Insert outbox rows in one statement; return their ids in the same order, each with
    the older notifications of its channel and monitor still pending."""
    return statements_for(conn).insert_notifications(conn, rows)
