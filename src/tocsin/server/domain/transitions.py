"""The heartbeat state machine: pings and passing deadlines in, new status and flips out.

Pure functions over plain data. A *flip* is a state change worth keeping in history;
``up`` ↔ ``started`` is a run beginning and ending, not a change of health, so it
changes the state without a flip.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tocsin.durations import format_duration
from tocsin.server.domain.schedule import Schedule
from tocsin.server.domain.states import AlertKind, MonitorState, PingKind

_QUIET_CHANGES = {
    frozenset({MonitorState.UP, MonitorState.STARTED}),
}
# A deadline's cause names the grace time: monitors share a few, each spelt once.
_grace_text = functools.lru_cache(maxsize=1024)(format_duration)


@dataclass(frozen=True, slots=True)
class HeartbeatStatus:
    """The mutable part of a heartbeat monitor."""

    state: MonitorState = MonitorState.NEW
    last_ping_at: datetime | None = None
    last_start_at: datetime | None = None
    last_start_rid: str | None = None
    next_deadline: datetime | None = None

    def evolve(self, **changes: Any) -> HeartbeatStatus:
        """A copy with ``changes`` applied (``dataclasses.replace`` is slow on the ping path)."""
        return HeartbeatStatus(
            changes.get("state", self.state),
            changes.get("last_ping_at", self.last_ping_at),
            changes.get("last_start_at", self.last_start_at),
            changes.get("last_start_rid", self.last_start_rid),
            changes.get("next_deadline", self.next_deadline),
        )


@dataclass(frozen=True)
class Ping:
    """A received ping, as the state machine needs it."""

    kind: PingKind
    at: datetime
    rid: str | None = None
    exit_status: int | None = None


@dataclass(frozen=True)
class Flip:
    """A recorded state change and why it happened."""

    old_state: MonitorState
    new_state: MonitorState
    cause: str

    @property
    def alert(self) -> AlertKind | None:
        """The alert this flip raises: ``down`` on failure, ``up`` on recovery from down."""
        if self.new_state is MonitorState.DOWN and self.old_state is not MonitorState.DOWN:
            return AlertKind.DOWN
        if self.old_state is MonitorState.DOWN and self.new_state is MonitorState.UP:
            return AlertKind.UP
        return None


@dataclass(frozen=True)
class Transition:
    """Result of feeding one event to the state machine."""

    status: HeartbeatStatus
    flip: Flip | None = None
    duration: timedelta | None = None


def deadline_for(status: HeartbeatStatus, schedule: Schedule) -> datetime | None:
    """When ``status`` next changes by itself, if it does (used after schedule edits too)."""
    if status.state is MonitorState.STARTED and status.last_start_at is not None:
        return status.last_start_at + schedule.grace
    if status.last_ping_at is None:
        return None
    if status.state is MonitorState.UP:
        return schedule.next_expected(status.last_ping_at)
    if status.state is MonitorState.GRACE:
        return schedule.next_expected(status.last_ping_at) + schedule.grace
    return None


def _move(
    status: HeartbeatStatus,
    schedule: Schedule,
    state: MonitorState,
    cause: str,
    duration: timedelta | None = None,
    **changes: Any,
) -> Transition:
    moved = status.evolve(state=state, **changes)
    moved = HeartbeatStatus(
        moved.state,
        moved.last_ping_at,
        moved.last_start_at,
        moved.last_start_rid,
        deadline_for(moved, schedule),
    )
    flip = None
    if state is not status.state and frozenset({state, status.state}) not in _QUIET_CHANGES:
        flip = Flip(status.state, state, cause)
    return Transition(moved, flip, duration)


def on_ping(
    status: HeartbeatStatus, schedule: Schedule, ping: Ping, start_at: datetime | None = None
) -> Transition:
    """Apply ``ping``. ``start_at`` is when the run it ends started (same run id), if known.

    A ``start`` on a ``down`` monitor keeps it down (only success brings it back), and any
    ping to a paused monitor resumes it, as Healthchecks does.
    """
    kind = ping.kind
    if kind is PingKind.LOG:
        return Transition(status)
    if kind is PingKind.START:
        started: dict[str, Any] = {"last_start_at": ping.at, "last_start_rid": ping.rid}
        if status.state is MonitorState.DOWN:
            return Transition(status.evolve(**started))
        return _move(status, schedule, MonitorState.STARTED, "start ping", **started)
    duration = ping.at - start_at if start_at is not None and start_at <= ping.at else None
    ends_latest_run = status.last_start_at is not None and status.last_start_rid == ping.rid
    cleared: dict[str, Any] = {"last_ping_at": ping.at}
    if ends_latest_run or status.state is MonitorState.DOWN:
        cleared |= {"last_start_at": None, "last_start_rid": None}
    if kind is PingKind.FAIL:
        cause = "fail ping" if ping.exit_status is None else f"exit status {ping.exit_status}"
        return _move(status, schedule, MonitorState.DOWN, cause, duration, **cleared)
    still_running = not ends_latest_run and status.last_start_at is not None
    still_running = still_running and status.state is MonitorState.STARTED
    state = MonitorState.STARTED if still_running else MonitorState.UP
    cause = "success ping" if ping.exit_status is None else "exit status 0"
    return _move(status, schedule, state, cause, duration, **cleared)


def on_deadline(status: HeartbeatStatus, schedule: Schedule, now: datetime) -> Transition | None:
    """Advance ``status`` past every deadline that is due at ``now``; ``None`` if none is."""
    if status.next_deadline is None or now < status.next_deadline:
        return None
    if status.state is MonitorState.STARTED and status.last_start_at is not None:
        cause = (
            f"started at {status.last_start_at.isoformat(timespec='seconds')} and no success "
            f"within the grace time of {_grace_text(schedule.grace)}"
        )
        return _move(status, schedule, MonitorState.DOWN, cause)
    if status.last_ping_at is None:
        return None
    expected = schedule.next_expected(status.last_ping_at)
    last = status.last_ping_at.isoformat(timespec="seconds")
    if now >= expected + schedule.grace and status.state in (MonitorState.UP, MonitorState.GRACE):
        cause = (
            f"no ping since {last}; expected by {expected.isoformat(timespec='seconds')}, "
            f"grace {_grace_text(schedule.grace)} ran out"
        )
        return _move(status, schedule, MonitorState.DOWN, cause)
    if status.state is MonitorState.UP:
        cause = f"no ping since {last}; expected by {expected.isoformat(timespec='seconds')}"
        return _move(status, schedule, MonitorState.GRACE, cause)
    return None


def pause(status: HeartbeatStatus, cause: str = "paused") -> Transition:
    """Stop watching: no deadlines, no alerts until the next ping or ``resume``."""
    moved = status.evolve(
        state=MonitorState.PAUSED, next_deadline=None, last_start_at=None, last_start_rid=None
    )
    flip = None if status.state is MonitorState.PAUSED else Flip(status.state, moved.state, cause)
    return Transition(moved, flip)


def resume(status: HeartbeatStatus, cause: str = "resumed") -> Transition:
    """Watch again from scratch: the monitor is ``new`` until its next ping."""
    if status.state is not MonitorState.PAUSED:
        return Transition(status)
    moved = status.evolve(state=MonitorState.NEW, next_deadline=None)
    return Transition(moved, Flip(status.state, moved.state, cause))


def rescheduled(status: HeartbeatStatus, schedule: Schedule) -> HeartbeatStatus:
    """``status`` with its deadline recomputed after the schedule changed."""
    return status.evolve(next_deadline=deadline_for(status, schedule))
