"""The rows the engines write through ``hot_sql`` (one named tuple per statement), and
the monitors a deadline pass reads.

Each written tuple's field names are the table's column names, and ``hot_sql`` builds its
statements from ``_fields``: the field order here *is* the column order of the SQL, so
the two cannot drift apart. Values are what the database stores (enum values as text,
aware UTC datetimes); ``hot_sql`` converts timestamps and JSON per dialect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from tocsin.server.domain.schedule import Schedule
from tocsin.server.domain.transitions import HeartbeatStatus


class PingRow(NamedTuple):
    """A ``pings`` row."""

    monitor_id: int
    n: int
    created_at: datetime
    kind: str
    exit_status: int | None
    rid: str | None
    duration_seconds: float | None
    method: str
    scheme: str
    remote_addr: str | None
    user_agent: str | None
    body: str | None
    body_size: int


class PingedMonitorRow(NamedTuple):
    """What a ping batch changes on a ``monitors`` row (the row is found by ``id``)."""

    state: str
    last_ping_at: datetime | None
    last_start_at: datetime | None
    last_start_rid: str | None
    next_deadline: datetime | None
    last_duration_seconds: float | None
    n_pings: int
    id: int


class DeadlineStateRow(NamedTuple):
    """What a deadline pass changes on a ``monitors`` row (the row is found by ``id``)."""

    state: str
    next_deadline: datetime | None
    id: int


class FlipRow(NamedTuple):
    """A ``flips`` row."""

    monitor_id: int
    created_at: datetime
    old_state: str
    new_state: str
    cause: str


class NotificationRow(NamedTuple):
    """A ``notifications`` row as the outbox writes it: already claimed by its writer."""

    monitor_id: int
    channel_id: int
    flip_id: int | None
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_until: datetime
    created_at: datetime
    incident_id: int | None = None


class NewNotification(NamedTuple):
    """An outbox row just inserted: its id, and the ids of the older notifications of its
    channel and monitor still pending when it was written, which go out first."""

    id: int
    older: tuple[int, ...]


class DueMonitor(NamedTuple):
    """A monitor as a deadline pass reads it: what ``on_deadline`` decides from, decoded,
    and the whole stored row, which ``HotStatements.records`` turns into a
    ``MonitorRecord`` only for the monitors whose flip alerts."""

    id: int
    uuid: str
    status: HeartbeatStatus
    schedule: Schedule
    row: tuple[Any, ...]
