"""Queue alerts in the durable outbox, in the caller's transaction.

Every flip into or out of ``down`` goes through the monitor's alert policy
(``notify_decision.decide``, with the holds in force and what its users were last told);
the notices it returns become one ``notifications`` row per channel, written in the same
transaction as the flip itself together with the updated log and the monitor's incident
(opened when it goes down, resolved when it recovers), so "the monitor went down" and "an alert is
owed" are committed together or not at all. The rows are written already claimed by the
writing process, which hands them straight to its delivery worker: no second
transaction and no polling stand between a flip and its alert. If the process dies
before sending, the claim expires and any server sends the alert.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from tocsin import __version__
from tocsin.durations import describe_span
from tocsin.server.domain.alert_policy import ReminderCaps
from tocsin.server.domain.flapping import FlapPolicy, FlapStatus
from tocsin.server.domain.notify_decision import Decision, Notice, NoticeKind, Situation, decide
from tocsin.server.domain.ping_urls import ping_url
from tocsin.server.domain.states import CLAIM_SECONDS, MonitorState, NotificationStatus
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.claimed import ClaimedAlert as ClaimedAlert
from tocsin.server.storage.dependency_state import ParentsDown, dependents_of, down_parents_of
from tocsin.server.storage.flap_state import flap_statuses
from tocsin.server.storage.holds import MonitorRef, holds_for
from tocsin.server.storage.hot_rows import NotificationRow
from tocsin.server.storage.incidents import add_children, open_incidents, resolve_incidents
from tocsin.server.storage.notifications import AlertChannel, insert_notifications
from tocsin.server.storage.policy_state import (
    AlertState,
    OpenIncident,
    StateUpdate,
    load_states,
    project_channels,
    save_states,
    wake_now,
)
from tocsin.server.storage.rows import MonitorRecord

MONITOR_API_PATH = "/api/v1/monitors/"
_SENT_BY = f"tocsin/{__version__}"
_PLAIN = (NoticeKind.DOWN, NoticeKind.UP)
# Random bytes drawn per writer at once, enough for this many idempotency keys.
_KEYS_PER_DRAW = 64
_PENDING = NotificationStatus.PENDING.value
_STEADY = FlapStatus()
_CLAIM = timedelta(seconds=CLAIM_SECONDS)
_VARIANT = "89ab"  # the first hex digit of a UUID's RFC 4122 variant, by its two low bits


# ``datetime.isoformat`` of the times the alerts of one transaction share (its flips'
# time, the incidents it opens): a cache hit costs a tenth of the formatting. Keyed by
# the instant, so only for times that are all UTC (as every time here is): equal
# instants then have equal text.
utc_iso = functools.lru_cache(maxsize=256)(datetime.isoformat)


def uuid4_text(raw: bytes) -> str:
    """``str(uuid.UUID(bytes=raw, version=4))`` for 16 random bytes, without building a
    ``UUID`` (a fifth of the cost): the version and variant bits replace their digits."""
    h = raw.hex()
    variant = _VARIANT[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


@dataclass(frozen=True)
class Event:
    """What an alert reports: the monitor's state, why and since when. A flip's event
    has ``old_state``; a reminder or a released hold repeats the incident's cause."""

    new_state: MonitorState
    cause: str
    at: datetime
    old_state: MonitorState | None = None

    @classmethod
    def of(cls, flip: Flip, at: datetime) -> Event:
        """The event of a flip."""
        return cls(flip.new_state, flip.cause, at, flip.old_state)


def _summary(name: str, event: Event, notice: Notice, incident: Mapping[str, Any] | None) -> str:
    summary = _headline(name, event, notice, incident)
    children = (incident or {}).get("children")
    if children:
        summary += f"; also affected: {', '.join(children)}"
    return summary


def _headline(name: str, event: Event, notice: Notice, incident: Mapping[str, Any] | None) -> str:
    state = event.new_state.value.upper()
    if notice.kind is NoticeKind.REMINDER:
        return f"{name} is still {state} (reminder {notice.number}): {event.cause}"
    if notice.kind is NoticeKind.ESCALATION:
        return f"{name} is still {state} (escalated): {event.cause}"
    if notice.kind is NoticeKind.FLAPPING:
        return f"{name} is flapping (now {state}): {event.cause}"
    if notice.kind is NoticeKind.UP and incident and incident.get("duration_seconds"):
        down_for = describe_span(timedelta(seconds=float(incident["duration_seconds"])))
        return f"{name} is {state} after {down_for} down: {event.cause}"
    return f"{name} is {state}: {event.cause}"


def alert_payload(
    monitor: MonitorRecord,
    event: Flip | Event,
    at: datetime,
    base_url: str,
    idempotency_key: str,
    probe: Mapping[str, Any] | None = None,
    notice: Notice | None = None,
    incident: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document a webhook receives for an alert.

    ``event`` is the flip that raised it (or, for a reminder, an escalation or a released
    hold, the incident's ``Event``); ``notice`` says which alert it is (a plain ``down``
    or ``up`` when absent); ``incident`` (id, opened_at, resolved_at, duration_seconds,
    children) ties it to the monitor's incident, and its summary names the children
    (monitors depending on this one that went down under it: "also affected: a, b").
    A probed monitor's alert carries ``probe``: the result that flipped it (verdict,
    status code, response time, the failed assertions and components with their values);
    its cause already says what broke, e.g. ``status (503) == 200``.
    """
    if isinstance(event, Flip):
        assert event.alert is not None
        event = Event.of(event, at)
    if notice is None:
        kind = NoticeKind.DOWN if event.new_state is MonitorState.DOWN else NoticeKind.UP
        notice = Notice(kind, ())
    new_state = event.new_state.value
    old_state = event.old_state.value if event.old_state else new_state
    uuid = monitor.uuid
    probed = monitor.kind.probed
    about: dict[str, Any] = {
        "uuid": uuid,
        "name": monitor.name,
        "slug": monitor.slug,
        "kind": monitor.kind.value,
        "tags": list(monitor.tags),
        "state": new_state,
    }
    # The keys keep the order receivers have always seen (a probed monitor's
    # last_result_at comes last).
    if probed:
        about["url"] = f"{base_url}{MONITOR_API_PATH}{uuid}"
        about["last_result_at"] = utc_iso(at)
    else:
        last_ping_at = monitor.status.last_ping_at
        about["last_ping_at"] = last_ping_at.isoformat() if last_ping_at else None
        about["ping_url"] = ping_url(base_url, uuid)
        about["url"] = f"{base_url}{MONITOR_API_PATH}{uuid}"
    payload: dict[str, Any] = {
        "event": notice.kind.value,
        "idempotency_key": idempotency_key,
        "summary": _summary(monitor.name, event, notice, incident),
        "monitor": about,
        "flip": {
            "old_state": old_state,
            "new_state": new_state,
            "cause": event.cause,
            "at": utc_iso(event.at),
        },
        "sent_by": _SENT_BY,
    }
    if notice.kind not in _PLAIN:
        payload["notice"] = {k: v for k, v in notice.to_json().items() if k != "channels"}
    if incident is not None:
        payload["incident"] = dict(incident)
    if probed and probe is not None:
        payload["probe"] = dict(probe)
    return payload


def incident_json(
    incident: OpenIncident | None,
    resolved_at: datetime | None,
    children: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """The ``incident`` part of a payload (``None`` outside an incident); ``children``:
    the monitors listed in it, which went down while it held their alerts."""
    if incident is None:
        return None
    end = resolved_at
    return {
        "id": incident.id,
        "opened_at": utc_iso(incident.opened_at),
        "resolved_at": utc_iso(end) if end else None,
        "duration_seconds": (end - incident.opened_at).total_seconds() if end else None,
        "children": list(children),
    }


@dataclass
class _Working:
    """A monitor's alert state as the flips of one transaction move it on."""

    state: AlertState
    incident: OpenIncident | None
    update: StateUpdate | None = None


class OutboxWriter:
    """Turns decisions into claimed ``notifications`` rows for one transaction."""

    def __init__(self, base_url: str, channels: Mapping[tuple[int, str], AlertChannel]) -> None:
        self.base_url = base_url
        self.channels = channels
        self.rows: list[NotificationRow] = []
        self._senders: list[tuple[str, dict[str, Any]]] = []
        self._random = b""
        self._drawn = 0

    def _key(self) -> str:
        """A new idempotency key: a random (version 4) UUID's text, from random bytes
        drawn for several keys at once."""
        at = self._drawn
        if at == len(self._random):
            self._random, at = os.urandom(16 * _KEYS_PER_DRAW), 0
        self._drawn = at + 16
        return uuid4_text(self._random[at : at + 16])

    def add(
        self,
        monitor: MonitorRecord,
        decision: Decision,
        event: Event,
        flip_id: int | None,
        incident: dict[str, Any] | None,
        incident_id: int | None,
        probe: Mapping[str, Any] | None = None,
    ) -> None:
        """One row per channel of each of ``decision``'s notices."""
        at = event.at
        claimed_until = at + _CLAIM
        for notice in decision.notices:
            for name in notice.channels:
                channel = self.channels.get((monitor.project_id, name))
                if channel is None:  # deleted since the policy named it
                    continue
                key = self._key()
                payload = alert_payload(
                    monitor, event, at, self.base_url, key, probe, notice, incident
                )
                self.rows.append(
                    NotificationRow(
                        monitor.id,
                        channel.id,
                        flip_id,
                        notice.kind.value,
                        key,
                        payload,
                        _PENDING,
                        1,
                        at,
                        claimed_until,
                        at,
                        incident_id,
                    )
                )
                self._senders.append((channel.kind, channel.settings))

    def write(self, conn: Connection) -> list[ClaimedAlert]:
        """Insert the rows; the alerts, claimed for this process's delivery worker."""
        if not self.rows:
            return []
        inserted = insert_notifications(conn, self.rows)
        return [
            ClaimedAlert(
                id=new.id,
                monitor_id=row.monitor_id,
                channel_id=row.channel_id,
                kind=kind,
                settings=settings,
                payload=row.payload,
                idempotency_key=row.idempotency_key,
                attempts=row.attempts,
                older_pending=new.older,
            )
            for new, row, (kind, settings) in zip(inserted, self.rows, self._senders, strict=True)
        ]


def insert_alerts(
    conn: Connection,
    flipped: list[tuple[MonitorRecord, Flip, int, datetime]],
    base_url: str,
    probes: Mapping[int, Mapping[str, Any]] | None = None,
    caps: ReminderCaps | None = None,
) -> list[ClaimedAlert]:
    """Decide and queue the alerts of each ``(monitor, flip, flip_id, at)`` into or out of
    ``down``, open or resolve its incident, and store what its users were told.

    ``probes`` maps a probed monitor's id to what its payload says about the result.
    A monitor that goes down while a parent it depends on is down is listed in that
    parent's open incident. Flips that neither go down nor recover cost nothing; the
    others cost a fixed handful of driver-level statements however many monitors flipped
    at once. Returns the notifications, claimed for this process, for its delivery worker.
    """
    alerting = [item for item in flipped if item[1].alert is not None]
    if not alerting:
        return []
    now = max(at for _, _, _, at in alerting)
    states = load_states(conn, (monitor.id for monitor, _, _, _ in alerting), now)
    # Holds and flips are read only for the monitors they may apply to (often none).
    refs = [
        MonitorRef(s.monitor_id, s.project_id, s.name) for s in states.values() if s.may_be_held
    ]
    held = holds_for(conn, refs, now)
    parents = down_parents_of(conn, states)
    blocked = parents.names
    may_flap = {m: s for m, s in states.items() if s.may_flap}
    flapping = flap_statuses(conn, flap_policies(may_flap), now)
    outbox = OutboxWriter(base_url, project_channels(conn, {s.project_id for s in states.values()}))
    working = {monitor_id: _Working(state, state.incident) for monitor_id, state in states.items()}
    opening = _opening(alerting, working)
    opened = open_incidents(conn, opening)
    children = _held_children(alerting, states, parents, opening, opened)
    add_children(conn, children)
    listed = _listed_children(states, children)
    new_ids = iter(opened)
    resolved: list[tuple[int, datetime, str]] = []
    probed = probes or {}
    for monitor, flip, flip_id, at in alerting:
        item = working[monitor.id]
        ended_at = None
        if flip.new_state is MonitorState.DOWN and item.incident is None:
            item.incident = OpenIncident(next(new_ids), at, flip.cause)
        elif flip.new_state is not MonitorState.DOWN and item.incident is not None:
            resolved.append((item.incident.id, at, flip.cause))
            ended_at = at
        log = item.update.log if item.update else item.state.log
        situation = Situation(
            flip.new_state,
            held.get(monitor.id),
            flapping.get(monitor.id, _STEADY),
            blocked.get(monitor.id, ()),
        )
        decision = decide(situation, item.state.policy, log, at, caps)
        incident = item.incident
        outbox.add(
            monitor,
            decision,
            Event.of(flip, at),
            flip_id,
            incident_json(incident, ended_at, listed.get(incident.id, ()) if incident else ()),
            incident.id if incident else None,
            probed.get(monitor.id),
        )
        if ended_at is not None:
            item.incident = None
        item.update = StateUpdate(
            monitor.id, decision.log, item.incident.id if item.incident else None, decision.wake_at
        )
    resolve_incidents(conn, resolved)
    save_states(conn, [item.update for item in working.values() if item.update])
    _release_dependents(conn, alerting, states, now)
    return outbox.write(conn)


def flap_policies(states: Mapping[int, AlertState]) -> dict[int, FlapPolicy]:
    """The flapping policy of each monitor that has one on."""
    return {m: s.policy.flapping for m, s in states.items() if s.policy.flapping is not None}


def _release_dependents(
    conn: Connection,
    alerting: list[tuple[MonitorRecord, Flip, int, datetime]],
    states: Mapping[int, AlertState],
    now: datetime,
) -> None:
    """Monitors depending on one that recovered are decided again by the policy watch:
    one still down sends its held alert then."""
    recovered = {
        (states[monitor.id].project_id, states[monitor.id].name)
        for monitor, flip, _, _ in alerting
        if flip.new_state is not MonitorState.DOWN and monitor.id in states
    }
    children = dependents_of(conn, recovered)
    if children:
        wake_now(conn, children, now)


def _held_children(
    alerting: list[tuple[MonitorRecord, Flip, int, datetime]],
    states: Mapping[int, AlertState],
    parents: ParentsDown,
    opening: list[tuple[int, datetime, str]],
    opened: list[int],
) -> list[tuple[int, int, datetime]]:
    """``(incident_id, monitor_id, at)`` for each monitor going down while a parent is
    down: listed in the parent's open incident, which these flips may have just opened."""
    if not parents.names:
        return []
    by_name = {(s.project_id, s.name): monitor_id for monitor_id, s in states.items()}
    # The incident a monitor of this batch opened last (its open one after the batch).
    just_opened = {m: new_id for (m, _, _), new_id in zip(opening, opened, strict=True)}
    found: list[tuple[int, int, datetime]] = []
    for monitor, flip, _, at in alerting:
        if flip.new_state is not MonitorState.DOWN or monitor.id not in parents.names:
            continue
        project_id = states[monitor.id].project_id
        for name in parents.names[monitor.id]:
            parent_id = by_name.get((project_id, name))
            incident_id = just_opened.get(parent_id) if parent_id is not None else None
            if incident_id is None:
                incident_id = parents.incidents.get((project_id, name))
            if incident_id is not None:
                found.append((incident_id, monitor.id, at))
    return found


def _listed_children(
    states: Mapping[int, AlertState], children: list[tuple[int, int, datetime]]
) -> dict[int, tuple[str, ...]]:
    """The children listed in each incident these flips alert about: those of incidents
    already open as read with the states, then the ones these flips add."""
    listed = {
        s.incident.id: list(s.incident.children) for s in states.values() if s.incident is not None
    }
    for incident_id, monitor_id, _ in children:
        names = listed.setdefault(incident_id, [])
        if states[monitor_id].name not in names:
            names.append(states[monitor_id].name)
    return {incident_id: tuple(names) for incident_id, names in listed.items()}


def _opening(
    alerting: list[tuple[MonitorRecord, Flip, int, datetime]], working: Mapping[int, _Working]
) -> list[tuple[int, datetime, str]]:
    """The incidents the flips open, in flip order: each down flip of a monitor not
    already in an open incident (one insert for them all)."""
    is_open = {monitor_id: item.incident is not None for monitor_id, item in working.items()}
    opening: list[tuple[int, datetime, str]] = []
    for monitor, flip, _, at in alerting:
        down = flip.new_state is MonitorState.DOWN
        if down and not is_open[monitor.id]:
            opening.append((monitor.id, at, flip.cause))
        is_open[monitor.id] = down
    return opening
