"""Per monitor: its alert policy, what its users were last told and its open incident, for
the alert path (synchronous, inside the engines' write transactions, through the
driver-level statements of ``policy_sql``).

``alert_states`` rows exist only for monitors that have flipped into or out of ``down``,
so the default case costs nothing until a monitor alerts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tocsin.server.domain.alert_policy import AlertPolicy
from tocsin.server.domain.flapping import MAX_WITHIN
from tocsin.server.domain.notify_decision import NoticeLog
from tocsin.server.storage.notifications import AlertChannel
from tocsin.server.storage.policy_sql import RECENT_FLIPS_COUNTED, StateWrite, policy_sql
from tocsin.server.storage.tables import alert_states

_DEFAULT_POLICY = AlertPolicy()


@dataclass(frozen=True)
class OpenIncident:
    """The incident a monitor is in: since when, what broke, and the monitors depending on
    this one that went down while it was down (listed in it, in the order they did)."""

    id: int
    opened_at: datetime
    cause: str
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertState:
    """What the alert path needs to know about one monitor; ``may_be_held``: a silence or
    maintenance window that may hold it is not over yet, ``may_flap``: it changed state
    often enough lately that it may be flapping (both as of the ``now`` it was read at;
    when false, ``holds_for`` and ``flap_statuses`` have nothing to say about it)."""

    monitor_id: int
    project_id: int
    name: str
    policy: AlertPolicy
    log: NoticeLog
    incident: OpenIncident | None
    may_be_held: bool = True
    may_flap: bool = True


@dataclass(frozen=True)
class StateUpdate:
    """The log, incident and next wake-up to store for a monitor."""

    monitor_id: int
    log: NoticeLog
    incident_id: int | None
    wake_at: datetime | None


def load_states(
    conn: Connection, monitor_ids: Iterable[int], now: datetime | None = None
) -> dict[int, AlertState]:
    """The alert state of each monitor, with its channels and its open incident's children
    (one query); ``may_be_held`` and ``may_flap`` as of ``now``, both true without it."""
    ids = sorted(set(monitor_ids))
    if not ids:
        return {}
    at = now or datetime.now(UTC)
    found: dict[int, AlertState] = {}
    policies: dict[tuple[str | None, tuple[str, ...]], AlertPolicy] = {}
    # After a batch of flips many monitors hold the same log ("told up", or "told down"
    # at the batch's time): each distinct text is parsed once.
    logs: dict[str | None, NoticeLog] = {None: NoticeLog()}
    for row in policy_sql(conn).states(conn, ids, at, at - 2 * MAX_WITHIN):
        key = (row.policy_json, row.channels)
        policy = policies.get(key)
        if policy is None:
            stored = json.loads(row.policy_json) if row.policy_json else None
            base = AlertPolicy.from_json(stored) if stored else _DEFAULT_POLICY
            policy = policies[key] = replace(base, channels=row.channels)
        incident = None
        if row.incident_id is not None:
            assert row.opened_at is not None
            incident = OpenIncident(row.incident_id, row.opened_at, row.cause or "", row.children)
        flapping = policy.flapping
        log = logs.get(row.log_json)
        if log is None:
            log = logs[row.log_json] = _log_from_text(row.log_json)
        found[row.monitor_id] = AlertState(
            row.monitor_id,
            row.project_id,
            row.name,
            policy,
            log,
            incident,
            may_be_held=now is None or row.may_be_held,
            may_flap=flapping is not None
            and (now is None or row.recent_flips >= min(flapping.changes, RECENT_FLIPS_COUNTED)),
        )
    return found


def project_channels(
    conn: Connection, project_ids: Iterable[int]
) -> dict[tuple[int, str], AlertChannel]:
    """Every channel of these projects by ``(project_id, name)``."""
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    return {
        (row.project_id, row.name): AlertChannel(row.id, row.kind, dict(row.settings))
        for row in policy_sql(conn).channels(conn, ids)
    }


def _log_from_text(text: str | None) -> NoticeLog:
    """The log stored as ``text`` (a SQL ``NULL`` or JSON ``null``: nothing told yet)."""
    data = json.loads(text) if text else None
    return NoticeLog.from_json(data) if data else NoticeLog()


def save_states(conn: Connection, updates: Sequence[StateUpdate]) -> None:
    """Store each monitor's log, incident and wake-up (insert or replace; one statement)."""
    # Logs are values: the monitors of one batch mostly share a few, encoded once each
    # (their times are all UTC, so equal logs have equal text).
    texts: dict[NoticeLog, str] = {}
    writes: list[StateWrite] = []
    for update in updates:
        text = texts.get(update.log)
        if text is None:
            text = texts[update.log] = json.dumps(update.log.to_json())
        writes.append(StateWrite(update.monitor_id, text, update.incident_id, update.wake_at))
    policy_sql(conn).save_states(conn, writes)


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
    return policy_sql(conn).wake_now(conn, ids, now)
