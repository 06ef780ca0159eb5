"""The heartbeat state machine, table-driven: pings and deadlines in, states and flips out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.server.domain.schedule import Schedule
from tocsin.server.domain.states import AlertKind, MonitorState, PingKind
from tocsin.server.domain.transitions import (
    HeartbeatStatus,
    Ping,
    deadline_for,
    on_deadline,
    on_ping,
    pause,
    resume,
)

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PERIOD = Schedule(grace=timedelta(minutes=10), period=HOUR)
S = MonitorState


def status(state: MonitorState, **kw: object) -> HeartbeatStatus:
    base = HeartbeatStatus(state=state, last_ping_at=T0 if state is not S.NEW else None)
    return base.evolve(**kw)


@pytest.mark.parametrize(
    ("before", "kind", "after", "alert"),
    [
        pytest.param(S.NEW, PingKind.SUCCESS, S.UP, None, id="new-success-up"),
        pytest.param(S.UP, PingKind.SUCCESS, S.UP, None, id="up-success-stays"),
        pytest.param(S.GRACE, PingKind.SUCCESS, S.UP, None, id="late-success-up-no-alert"),
        pytest.param(S.DOWN, PingKind.SUCCESS, S.UP, AlertKind.UP, id="down-success-recovers"),
        pytest.param(S.UP, PingKind.FAIL, S.DOWN, AlertKind.DOWN, id="fail-alerts"),
        pytest.param(S.DOWN, PingKind.FAIL, S.DOWN, None, id="fail-while-down-quiet"),
        pytest.param(S.UP, PingKind.START, S.STARTED, None, id="start-runs"),
        pytest.param(S.NEW, PingKind.START, S.STARTED, None, id="start-on-new"),
        pytest.param(S.DOWN, PingKind.START, S.DOWN, None, id="start-keeps-down"),
        pytest.param(S.UP, PingKind.LOG, S.UP, None, id="log-changes-nothing"),
        pytest.param(S.PAUSED, PingKind.SUCCESS, S.UP, None, id="ping-resumes-paused"),
    ],
)
def test_on_ping(
    before: MonitorState, kind: PingKind, after: MonitorState, alert: AlertKind | None
) -> None:
    now = T0 + timedelta(minutes=30)
    result = on_ping(status(before), PERIOD, Ping(kind, now))
    assert result.status.state is after
    assert (result.flip.alert if result.flip else None) is alert


def test_success_sets_the_deadline_to_the_end_of_the_period() -> None:
    result = on_ping(status(S.NEW), PERIOD, Ping(PingKind.SUCCESS, T0))
    assert result.status.next_deadline == T0 + HOUR
    assert result.flip is not None
    assert result.flip.cause == "success ping"


def test_up_and_started_are_not_flips() -> None:
    started = on_ping(status(S.UP), PERIOD, Ping(PingKind.START, T0))
    assert started.flip is None
    assert started.status.next_deadline == T0 + PERIOD.grace
    done = on_ping(started.status, PERIOD, Ping(PingKind.SUCCESS, T0 + timedelta(minutes=5)), T0)
    assert done.flip is None
    assert done.duration == timedelta(minutes=5)
    assert done.status.last_start_at is None


def test_a_success_from_another_run_keeps_the_latest_run_started() -> None:
    running = on_ping(status(S.UP), PERIOD, Ping(PingKind.START, T0, rid="b")).status
    other = on_ping(running, PERIOD, Ping(PingKind.SUCCESS, T0, rid="a"))
    assert other.status.state is S.STARTED
    assert other.status.last_start_rid == "b"


def test_exit_status_cause() -> None:
    result = on_ping(status(S.UP), PERIOD, Ping(PingKind.FAIL, T0, exit_status=2))
    assert result.flip is not None
    assert result.flip.cause == "exit status 2"


@pytest.mark.parametrize(
    ("state", "minutes", "expected"),
    [
        pytest.param(S.UP, 59, None, id="before-period-nothing"),
        pytest.param(S.UP, 60, S.GRACE, id="period-over-grace"),
        pytest.param(S.UP, 75, S.DOWN, id="long-outage-straight-down"),
        pytest.param(S.GRACE, 69, None, id="grace-running"),
        pytest.param(S.GRACE, 70, S.DOWN, id="grace-over-down"),
    ],
)
def test_on_deadline(state: MonitorState, minutes: int, expected: MonitorState | None) -> None:
    current = status(state)
    current = current.evolve(next_deadline=deadline_for(current, PERIOD))
    result = on_deadline(current, PERIOD, T0 + timedelta(minutes=minutes))
    assert (result.status.state if result else None) is expected


def test_down_by_deadline_alerts_and_says_why() -> None:
    current = status(S.GRACE, next_deadline=T0 + timedelta(minutes=70))
    result = on_deadline(current, PERIOD, T0 + timedelta(minutes=70))
    assert result is not None
    assert result.flip is not None
    assert result.flip.alert is AlertKind.DOWN
    assert result.flip.cause == (
        "no ping since 2026-11-24T12:00:00+00:00; expected by 2026-11-24T13:00:00+00:00, "
        "grace 10m ran out"
    )
    assert result.status.next_deadline is None


def test_started_run_times_out_after_grace() -> None:
    current = on_ping(status(S.UP), PERIOD, Ping(PingKind.START, T0)).status
    assert on_deadline(current, PERIOD, T0 + timedelta(minutes=9)) is None
    result = on_deadline(current, PERIOD, T0 + timedelta(minutes=10))
    assert result is not None
    assert result.status.state is S.DOWN


def test_cron_deadline_follows_the_schedule_in_its_timezone() -> None:
    cron = Schedule(grace=timedelta(minutes=30), cron="0 3 * * *", timezone="Europe/Berlin")
    ping_at = datetime(2026, 11, 24, 2, 0, 30, tzinfo=UTC)  # 03:00:30 in Berlin (UTC+1)
    result = on_ping(status(S.NEW), cron, Ping(PingKind.SUCCESS, ping_at))
    assert result.status.next_deadline == datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    down = on_deadline(
        result.status.evolve(state=S.GRACE, next_deadline=None),
        cron,
        datetime(2026, 11, 25, 2, 30, tzinfo=UTC),
    )
    assert down is None  # no deadline recorded: nothing fires by itself


def test_pause_and_resume() -> None:
    paused = pause(status(S.DOWN))
    assert paused.status.state is S.PAUSED
    assert paused.status.next_deadline is None
    assert paused.flip is not None
    assert paused.flip.alert is None
    resumed = resume(paused.status)
    assert resumed.status.state is S.NEW
    assert resume(status(S.UP)).flip is None
