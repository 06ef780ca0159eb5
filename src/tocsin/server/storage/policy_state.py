"""Per monitor: its alert policy, what its users were last told and its open incident, for
the alert path (synchronous, inside the engines' write transactions).

``alert_states`` rows exist only for monitors that have flipped into or out of ``down``,
so the default case costs nothing until a monitor alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from tocsin.server.domain.alert_policy import AlertPolicy
from tocsin.server.domain.notify_decision import NoticeLog
from tocsin.server.storage.notifications import AlertChannel
from tocsin.server.storage.tables import (
    alert_states,
    channels,
    incidents,
    monitor_channels,
    monitors,
)

_DEFAULT_POLICY = AlertPolicy()


@dataclass(frozen=True)
class OpenIncident:
    """The incident a monitor is in: since when, and what broke."""

    id: int
    opened_at: datetime
    cause: str


@dataclass(frozen=True)
class AlertState:
    """What the alert path needs to know about one monitor."""

    monitor_id: int
    project_id: int
    name: str
    policy: AlertPolicy
    log: NoticeLog
    incident: OpenIncident | None


@dataclass(frozen=True)
class StateUpdate:
    """The log, incident and next wake-up to store for a monitor."""

    monitor_id: int
    log: NoticeLog
    incident_id: int | None
    wake_at: datetime | None


def load_states(conn: Connection, monitor_ids: Iterable[int]) -> dict[int, AlertState]:
    """The alert state of each monitor (one query, plus one for the channel names)."""
    ids = sorted(set(monitor_ids))
    if not ids:
        return {}
    query = (
        select(
            monitors.c.id,
            monitors.c.project_id,
            monitors.c.name,
            monitors.c.alert_policy,
            alert_states.c.log,
            incidents.c.id,
            incidents.c.opened_at,
            incidents.c.cause,
        )
        .select_from(
            monitors.outerjoin(alert_states, alert_states.c.monitor_id == monitors.c.id).outerjoin(
                incidents,
                (incidents.c.id == alert_states.c.incident_id) & incidents.c.resolved_at.is_(None),
            )
        )
        .where(monitors.c.id.in_(ids))
    )
    names = _channel_names(conn, ids)
    found: dict[int, AlertState] = {}
    for row in conn.execute(query).all():
        monitor_id, project_id, name, policy, log, incident_id, opened_at, cause = row
        base = AlertPolicy.from_json(policy) if policy else _DEFAULT_POLICY
        incident = OpenIncident(incident_id, opened_at, cause) if incident_id else None
        found[monitor_id] = AlertState(
            monitor_id,
            project_id,
            name,
            replace(base, channels=names.get(monitor_id, ())),
            NoticeLog.from_json(log) if log else NoticeLog(),
            incident,
        )
    return found


def project_channels(
    conn: Connection, project_ids: Iterable[int]
) -> dict[tuple[int, str], AlertChannel]:
    """Every channel of these projects by ``(project_id, name)``."""
    query = select(
        channels.c.project_id, channels.c.name, channels.c.id, channels.c.kind, channels.c.settings
    ).where(channels.c.project_id.in_(sorted(set(project_ids))))
    return {
        (project_id, name): AlertChannel(channel_id, kind, dict(settings))
        for project_id, name, channel_id, kind, settings in conn.execute(query).all()
    }


def save_states(conn: Connection, updates: Sequence[StateUpdate]) -> None:
    """Store each monitor's log, incident and wake-up (insert or replace)."""
    if not updates:
        return
    values = [
        {
            "monitor_id": u.monitor_id,
            "log": u.log.to_json(),
            "incident_id": u.incident_id,
            "wake_at": u.wake_at,
        }
        for u in updates
    ]
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(alert_states)
    statement = statement.on_conflict_do_update(
        index_elements=[alert_states.c.monitor_id],
        set_={
            "log": statement.excluded.log,
            "incident_id": statement.excluded.incident_id,
            "wake_at": statement.excluded.wake_at,
        },
    )
    conn.execute(statement, values)


def due_wakeups(conn: Connection, until: datetime) -> list[tuple[int, datetime]]:
    """``(monitor_id, wake_at)`` of every monitor the policy watch must see by ``until``."""
    query = select(alert_states.c.monitor_id, alert_states.c.wake_at).where(
        alert_states.c.wake_at <= until
    )
    return [(monitor_id, at) for monitor_id, at in conn.execute(query).all()]


def wake_now(conn: Connection, monitor_ids: Iterable[int], now: datetime) -> list[int]:
    """Make these monitors due for the policy watch at ``now`` (a hold on them changed);
    returns those that have an alert state (the others have nothing to decide)."""
    ids = sorted(set(monitor_ids))
    if not ids:
        return []
    conn.execute(update(alert_states).where(alert_states.c.monitor_id.in_(ids)).values(wake_at=now))
    query = select(alert_states.c.monitor_id).where(alert_states.c.monitor_id.in_(ids))
    return [row[0] for row in conn.execute(query).all()]


def _channel_names(conn: Connection, monitor_ids: list[int]) -> dict[int, tuple[str, ...]]:
    query = (
        select(monitor_channels.c.monitor_id, channels.c.name)
        .join(channels, channels.c.id == monitor_channels.c.channel_id)
        .where(monitor_channels.c.monitor_id.in_(monitor_ids))
        .order_by(channels.c.id)
    )
    names: dict[int, list[str]] = {}
    for monitor_id, name in conn.execute(query).all():
        names.setdefault(monitor_id, []).append(name)
    return {monitor_id: tuple(found) for monitor_id, found in names.items()}
