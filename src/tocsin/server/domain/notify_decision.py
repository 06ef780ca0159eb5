"""What to send now: a monitor's state, its policy, what holds its alerts and what its users
were last told, in; notices, the updated log and the next wake-up time, out.

``decide`` is level-triggered: it compares the state with what users were last told
(``NoticeLog.told``), so calling it again with the log it returned sends nothing new. Call
it after every flip, when the monitor's hold or flapping status changes (a window ends, a
parent flips) and at ``Decision.wake_at``. The rules, in order:

1. ``new`` and ``paused`` monitors send nothing.
2. A maintenance window, a silence or a parent that is down holds everything. A down
   alert held this way is remembered and goes out as ``held_release`` when the hold ends
   if the monitor is still down; a monitor that recovered meanwhile sends nothing.
3. A flapping monitor sends one ``flapping`` notice, then nothing until it is stable; then
   users hear where it settled (``up``, or ``held_release`` if down).
4. Otherwise users hear the difference: ``down`` when it goes down, ``up`` when it
   recovers (if ``notify_on_recovery``), then while it stays down one ``escalation`` after
   ``escalate.after`` and a ``reminder`` every ``remind`` up to the cap, both counted from
   the first down alert. At most one reminder goes out per call, however late.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from tocsin.server.domain.alert_policy import AlertPolicy, ReminderCaps
from tocsin.server.domain.flapping import FlapStatus
from tocsin.server.domain.maintenance import Hold, HoldReason, from_iso, to_iso
from tocsin.server.domain.states import MonitorState

_SILENT_STATES = (MonitorState.NEW, MonitorState.PAUSED)
_NO_CAPS = ReminderCaps()


class NoticeKind(StrEnum):
    """What a notice tells its channels."""

    DOWN = "down"
    UP = "up"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    FLAPPING = "flapping"
    HELD_RELEASE = "held_release"


class Told(StrEnum):
    """What users were last told about a monitor."""

    NOTHING = "nothing"
    DOWN = "down"
    UP = "up"
    FLAPPING = "flapping"


@dataclass(frozen=True)
class Notice:
    """One alert to send to ``channels``. ``number`` counts reminders from 1; a
    ``held_release`` says what held it (``held_by``) and since when (``held_since``)."""

    kind: NoticeKind
    channels: tuple[str, ...]
    number: int = 0
    held_by: HoldReason | None = None
    held_since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the outbox."""
        return {
            "kind": self.kind.value,
            "channels": list(self.channels),
            "number": self.number,
            "held_by": self.held_by.value if self.held_by else None,
            "held_since": to_iso(self.held_since),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notice:
        """The notice ``to_json`` wrote."""
        held_by = data.get("held_by")
        return cls(
            NoticeKind(data["kind"]),
            tuple(data["channels"]),
            int(data.get("number") or 0),
            HoldReason(held_by) if held_by else None,
            from_iso(data.get("held_since")),
        )


@dataclass(frozen=True)
class NoticeLog:
    """What was sent about a monitor's current trouble; store one per monitor, ``decide``
    starts it afresh when a new down period is announced.

    ``paged_at`` is when the down (or held-release) alert went out: reminders and
    escalation count from it. ``held_since``/``held_by``: a down alert not sent yet
    because of a hold, or the flapping notice that replaced it.
    """

    told: Told = Told.NOTHING
    paged_at: datetime | None = None
    reminders_sent: int = 0
    last_reminder_at: datetime | None = None
    escalated_at: datetime | None = None
    held_since: datetime | None = None
    held_by: HoldReason | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for storage."""
        return {
            "told": self.told.value,
            "paged_at": to_iso(self.paged_at),
            "reminders_sent": self.reminders_sent,
            "last_reminder_at": to_iso(self.last_reminder_at),
            "escalated_at": to_iso(self.escalated_at),
            "held_since": to_iso(self.held_since),
            "held_by": self.held_by.value if self.held_by else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NoticeLog:
        """The log ``to_json`` wrote."""
        held_by = data.get("held_by")
        return cls(
            Told(data.get("told") or Told.NOTHING),
            from_iso(data.get("paged_at")),
            int(data.get("reminders_sent") or 0),
            from_iso(data.get("last_reminder_at")),
            from_iso(data.get("escalated_at")),
            from_iso(data.get("held_since")),
            HoldReason(held_by) if held_by else None,
        )


@dataclass(frozen=True)
class Situation:
    """Where a monitor stands now: its state, the maintenance or silence ``hold`` running
    (``maintenance.current_hold``), its flapping status and its parents that are down
    (``dependencies.down_parents``)."""

    state: MonitorState
    hold: Hold | None = None
    flapping: FlapStatus = field(default_factory=FlapStatus)
    parents_down: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """The notices to send now, the log to store with them (in the same transaction), every
    hold in force (``held``, strongest first) and when to call ``decide`` again."""

    notices: tuple[Notice, ...]
    log: NoticeLog
    held: tuple[Hold, ...]
    wake_at: datetime | None


def holds(situation: Situation, policy: AlertPolicy) -> tuple[Hold, ...]:
    """Every hold in force: maintenance or silence, then parents down, then flapping."""
    if situation.hold is None and not situation.parents_down and not situation.flapping.flapping:
        return ()  # the usual case, decided for every flip
    found = [situation.hold] if situation.hold is not None else []
    if situation.parents_down:
        found.append(Hold(HoldReason.DEPENDENCY, situation.parents_down))
    if situation.flapping.flapping and policy.flapping is not None:
        found.append(Hold(HoldReason.FLAPPING, (), situation.flapping.until))
    return tuple(found)


def decide(
    situation: Situation,
    policy: AlertPolicy,
    log: NoticeLog,
    now: datetime,
    caps: ReminderCaps | None = None,
) -> Decision:
    """What to send at ``now`` (see the module's rules) and the log to store after it."""
    caps = caps or _NO_CAPS
    held = holds(situation, policy)
    if situation.state in _SILENT_STATES:
        return Decision((), log, held, None)
    notices: list[Notice] = []
    log = _apply(situation, policy, log, now, caps, held, notices)
    kept = tuple(n for n in notices if n.channels)
    return Decision(kept, log, held, _wakeup(situation, policy, log, caps, held))


def next_wakeup(
    situation: Situation, policy: AlertPolicy, log: NoticeLog, caps: ReminderCaps | None = None
) -> datetime | None:
    """When ``decide`` has something to do again without a new event: the next reminder or
    escalation, the end of a hold that keeps something back, or flapping's end. ``None``
    when only an event (a flip, a parent's recovery) can change anything."""
    if situation.state in _SILENT_STATES:
        return None
    return _wakeup(situation, policy, log, caps or _NO_CAPS, holds(situation, policy))


def _wakeup(
    situation: Situation,
    policy: AlertPolicy,
    log: NoticeLog,
    caps: ReminderCaps,
    held: tuple[Hold, ...],
) -> datetime | None:
    """``next_wakeup`` for a monitor that is not silent, with its holds in force."""
    if held:
        pending = _is_pending(situation, log)
        ends = [h.until for h in held if h.until and (pending or h.reason is HoldReason.FLAPPING)]
        return min(ends, default=None)
    if situation.state is not MonitorState.DOWN or log.told is not Told.DOWN:
        return None
    reminder = _reminder_due(policy, log, caps)
    times = [t for t in (_escalation_due(policy, log), reminder) if t]
    return min(times, default=None)


def _apply(
    situation: Situation,
    policy: AlertPolicy,
    log: NoticeLog,
    now: datetime,
    caps: ReminderCaps,
    held: tuple[Hold, ...],
    notices: list[Notice],
) -> NoticeLog:
    down = situation.state is MonitorState.DOWN
    escalated = log.escalated_at is not None
    blocking = [h for h in held if h.reason is not HoldReason.FLAPPING]
    if blocking:
        if down and log.told is not Told.DOWN and log.held_since is None:
            return replace(log, held_since=now, held_by=blocking[0].reason)
        if not down and log.told is not Told.FLAPPING and log.held_since is not None:
            return replace(log, held_since=None, held_by=None)
        return log
    if held:  # flapping
        if log.told is Told.FLAPPING:
            return log
        notices.append(Notice(NoticeKind.FLAPPING, policy.recipients(escalated)))
        return NoticeLog(
            Told.FLAPPING,
            escalated_at=log.escalated_at,
            held_since=now,
            held_by=HoldReason.FLAPPING,
        )
    if not down:
        if log.told in (Told.DOWN, Told.FLAPPING):
            if policy.notify_on_recovery:
                notices.append(Notice(NoticeKind.UP, policy.recipients(escalated)))
            return NoticeLog(Told.UP)
        return NoticeLog(log.told) if log.held_since is not None else log
    if log.told is not Told.DOWN:
        kind = NoticeKind.DOWN if log.held_since is None else NoticeKind.HELD_RELEASE
        keep_escalation = log.told is Told.FLAPPING and escalated
        notices.append(
            Notice(kind, policy.recipients(keep_escalation), 0, log.held_by, log.held_since)
        )
        return NoticeLog(Told.DOWN, now, escalated_at=log.escalated_at if keep_escalation else None)
    escalation = _escalation_due(policy, log)
    if policy.escalate and escalation and escalation <= now:
        notices.append(Notice(NoticeKind.ESCALATION, policy.escalate.channels))
        log = replace(log, escalated_at=now)
    reminder = _reminder_due(policy, log, caps)
    if reminder and reminder <= now:
        number = log.reminders_sent + 1
        notices.append(Notice(NoticeKind.REMINDER, policy.recipients(escalated), number))
        log = replace(log, reminders_sent=number, last_reminder_at=now)
    return log


def _is_pending(situation: Situation, log: NoticeLog) -> bool:
    """Whether the end of a hold may send something: the monitor is down, or users were
    told something that is no longer true."""
    return situation.state is MonitorState.DOWN or log.told in (Told.DOWN, Told.FLAPPING)


def _escalation_due(policy: AlertPolicy, log: NoticeLog) -> datetime | None:
    if policy.escalate is None or log.escalated_at is not None or log.paged_at is None:
        return None
    return log.paged_at + policy.escalate.after


def _reminder_due(policy: AlertPolicy, log: NoticeLog, caps: ReminderCaps) -> datetime | None:
    if policy.remind is None or log.paged_at is None:
        return None
    every, count = policy.remind.effective(caps)
    if log.reminders_sent >= count:
        return None
    return (log.last_reminder_at or log.paged_at) + every
