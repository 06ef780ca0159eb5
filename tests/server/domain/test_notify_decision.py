"""What gets sent when, table-driven: a monitor's story (state changes, windows, parents)
played against ``decide`` with the clock passed in, waking only when ``decide`` asks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.server.domain.alert_policy import (
    AlertPolicy,
    Escalation,
    ReminderCaps,
    Reminders,
)
from tocsin.server.domain.flapping import FlapStatus, flap_status
from tocsin.server.domain.maintenance import (
    Hold,
    HoldReason,
    MaintenanceWindow,
    Silence,
    current_hold,
    maintenance_window,
)
from tocsin.server.domain.notify_decision import (
    Decision,
    Notice,
    NoticeKind,
    NoticeLog,
    Situation,
    Told,
    decide,
    holds,
    next_wakeup,
)
from tocsin.server.domain.states import MonitorState

T0 = datetime(2026, 11, 22, tzinfo=UTC)  # a Sunday, 00:00
S = MonitorState
K = NoticeKind
H = timedelta(hours=1)
M = timedelta(minutes=1)
OPS = AlertPolicy(channels=("ops",))
# sunday-deploys: 02:00-03:00, minutes 120 to 180.
DEPLOYS = maintenance_window(
    {"name": "sunday-deploys", "cron": "0 2 * * 0", "duration": "1h", "monitors": ["*"]}
)

Sent = tuple[float, NoticeKind, tuple[str, ...]]


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def play(
    policy: AlertPolicy,
    states: Mapping[float, MonitorState],
    *,
    windows: Sequence[MaintenanceWindow] = (),
    silences: Sequence[Silence] = (),
    parents: Mapping[float, tuple[str, ...]] | None = None,
    until: float = 24 * 60,
    caps: ReminderCaps | None = None,
) -> list[Sent]:
    """Run the story as an engine would: ``decide`` at each event and at each ``wake_at``.

    ``states`` and ``parents`` map minutes to the monitor's new state and its parents down.
    Returns ``(minute, kind, channels)`` for every notice sent.
    """
    events = sorted({*states, *(parents or {})})
    state: MonitorState = S.UP
    parents_down: tuple[str, ...] = ()
    log, flap, flips = NoticeLog(), FlapStatus(), list[datetime]()
    sent: list[Sent] = []
    wake: datetime | None = None
    while True:
        upcoming = [at(e) for e in events] + ([wake] if wake else [])
        now = min(upcoming, default=at(until + 1))
        if now > at(until):
            return sent
        minute = (now - T0) / M
        if minute in states and states[minute] is not state:
            state = states[minute]
            flips.append(now)
        parents_down = (parents or {}).get(minute, parents_down)
        if policy.flapping:
            flap = flap_status(flap, flips, now, policy.flapping)
        hold = current_hold(windows, silences, now)
        decision = decide(Situation(state, hold, flap, parents_down), policy, log, now, caps)
        again = decide(Situation(state, hold, flap, parents_down), policy, decision.log, now, caps)
        assert again.notices == ()  # level-triggered: asking twice sends nothing new
        sent += [(minute, n.kind, n.channels) for n in decision.notices]
        log, wake = decision.log, decision.wake_at
        assert wake is None or wake > now
        events = [e for e in events if at(e) > now]


ESCALATING = AlertPolicy(("ops",), escalate=Escalation(H, ("pager",)))


@pytest.mark.parametrize(
    ("policy", "states", "expected"),
    [
        pytest.param(OPS, {10: S.DOWN, 50: S.UP}, [(10, K.DOWN), (50, K.UP)], id="down-then-up"),
        pytest.param(
            AlertPolicy(("ops",), notify_on_recovery=False),
            {10: S.DOWN, 50: S.UP},
            [(10, K.DOWN)],
            id="recovery-not-wanted",
        ),
        pytest.param(OPS, {10: S.GRACE, 20: S.UP}, [], id="grace-is-not-down"),
        pytest.param(OPS, {10: S.STARTED, 20: S.UP}, [], id="a-run-is-not-news"),
        pytest.param(OPS, {10: S.PAUSED, 20: S.NEW}, [], id="paused-and-new-are-quiet"),
        pytest.param(
            OPS,
            {10: S.DOWN, 20: S.PAUSED, 30: S.NEW, 40: S.UP},
            [(10, K.DOWN), (40, K.UP)],
            id="paused-while-down-recovers-later",
        ),
        pytest.param(
            AlertPolicy(("ops",), remind=Reminders(2 * H, 3)),
            {10: S.DOWN},
            [(10, K.DOWN), (130, K.REMINDER), (250, K.REMINDER), (370, K.REMINDER)],
            id="reminders-every-2h-up-to-3",
        ),
        pytest.param(
            AlertPolicy(("ops",), remind=Reminders(2 * H, 1)),
            {10: S.DOWN, 200: S.UP, 300: S.DOWN},
            [(10, K.DOWN), (130, K.REMINDER), (200, K.UP), (300, K.DOWN), (420, K.REMINDER)],
            id="reminder-clock-starts-again-each-incident",
        ),
        pytest.param(
            ESCALATING,
            {10: S.DOWN, 100: S.UP},
            [(10, K.DOWN), (70, K.ESCALATION), (100, K.UP)],
            id="escalation-after-1h",
        ),
        pytest.param(
            ESCALATING,
            {10: S.DOWN, 69: S.UP},
            [(10, K.DOWN), (69, K.UP)],
            id="no-escalation-if-back-in-time",
        ),
        pytest.param(AlertPolicy(), {10: S.DOWN, 50: S.UP}, [], id="no-channels-nothing-sent"),
    ],
)
def test_stories(
    policy: AlertPolicy,
    states: dict[float, MonitorState],
    expected: list[tuple[float, NoticeKind]],
) -> None:
    assert [(minute, kind) for minute, kind, _ in play(policy, states)] == expected


def test_escalation_and_reminders_reach_the_right_channels() -> None:
    policy = AlertPolicy(("ops",), remind=Reminders(30 * M), escalate=Escalation(H, ("pager",)))
    assert play(policy, {10: S.DOWN, 110: S.UP}) == [
        (10, K.DOWN, ("ops",)),
        (40, K.REMINDER, ("ops",)),
        (70, K.ESCALATION, ("pager",)),
        (70, K.REMINDER, ("ops",)),
        (100, K.REMINDER, ("ops", "pager")),
        (110, K.UP, ("ops", "pager")),
    ]


def test_escalation_without_channels_of_its_own() -> None:
    policy = AlertPolicy((), escalate=Escalation(H, ("pager",)))
    assert play(policy, {10: S.DOWN, 100: S.UP}) == [
        (70, K.ESCALATION, ("pager",)),
        (100, K.UP, ("pager",)),
    ]


@pytest.mark.parametrize(
    ("caps", "policy", "expected"),
    [
        pytest.param(ReminderCaps(max_count=2), Reminders(H), [70, 130], id="count-capped"),
        pytest.param(
            ReminderCaps(min_interval=30 * M), Reminders(M, 3), [40, 70, 100], id="interval-floor"
        ),
    ],
)
def test_server_caps_bound_reminders(
    caps: ReminderCaps, policy: Reminders, expected: list[float]
) -> None:
    sent = play(AlertPolicy(("ops",), remind=policy), {10: S.DOWN}, caps=caps)
    assert [minute for minute, kind, _ in sent if kind is K.REMINDER] == expected


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        pytest.param({130: S.DOWN}, [(180, K.HELD_RELEASE)], id="still-down-at-end-alerts-then"),
        pytest.param({130: S.DOWN, 150: S.UP}, [], id="recovered-inside-sends-nothing"),
        pytest.param(
            {130: S.DOWN, 150: S.UP, 170: S.DOWN},
            [(180, K.HELD_RELEASE)],
            id="down-again-before-the-end",
        ),
        pytest.param(
            {100: S.DOWN, 150: S.UP}, [(100, K.DOWN), (180, K.UP)], id="recovery-held-to-the-end"
        ),
        pytest.param({100: S.DOWN}, [(100, K.DOWN)], id="known-outage-not-repeated"),
        pytest.param(
            {100: S.DOWN, 200: S.UP}, [(100, K.DOWN), (200, K.UP)], id="after-the-window-as-usual"
        ),
    ],
)
def test_maintenance_holds_alerts(
    states: dict[float, MonitorState], expected: list[tuple[float, NoticeKind]]
) -> None:
    sent = play(OPS, states, windows=[DEPLOYS], until=400)
    assert [(minute, kind) for minute, kind, _ in sent] == expected


def test_reminders_and_escalation_due_in_a_window_come_once_at_its_end() -> None:
    policy = AlertPolicy(("ops",), remind=Reminders(10 * M), escalate=Escalation(H, ("pager",)))
    sent = play(policy, {100: S.DOWN}, windows=[DEPLOYS], until=195)
    assert [(minute, kind) for minute, kind, _ in sent] == [
        (100, K.DOWN),
        (110, K.REMINDER),
        # 120-180: sunday-deploys holds the reminders and the escalation due at 160
        (180, K.ESCALATION),
        (180, K.REMINDER),
        (190, K.REMINDER),
    ]


def test_the_held_release_says_what_held_it_and_since_when() -> None:
    log = NoticeLog()
    hold = Hold(HoldReason.MAINTENANCE, ("sunday-deploys",), at(180))
    held = decide(Situation(S.DOWN, hold), OPS, log, at(130))
    assert held.notices == ()
    assert held.held == (hold,)
    assert held.wake_at == at(180)
    released = decide(Situation(S.DOWN), OPS, held.log, at(180))
    assert released.notices == (
        Notice(K.HELD_RELEASE, ("ops",), held_by=HoldReason.MAINTENANCE, held_since=at(130)),
    )
    assert released.log == NoticeLog(Told.DOWN, paged_at=at(180))


def test_a_silence_holds_like_a_window() -> None:
    silence = Silence("invoice-cron", at(0), at(120))
    sent = play(OPS, {10: S.DOWN}, silences=[silence], until=400)
    assert sent == [(120, K.HELD_RELEASE, ("ops",))]


@pytest.mark.parametrize(
    ("states", "parents", "expected"),
    [
        pytest.param(
            {10: S.DOWN},
            {5: ("shop-app",), 60: ()},
            [(60, K.HELD_RELEASE)],
            id="child-still-down-pages-when-parent-recovers",
        ),
        pytest.param(
            {10: S.DOWN, 40: S.UP},
            {5: ("shop-app",), 60: ()},
            [],
            id="child-recovered-with-parent-says-nothing",
        ),
        pytest.param(
            {10: S.DOWN, 80: S.UP},
            {30: ("shop-app",), 60: ()},
            [(10, K.DOWN), (80, K.UP)],
            id="child-down-first-has-paged-already",
        ),
        pytest.param(
            {10: S.DOWN, 50: S.UP},
            {30: ("shop-app",), 60: ()},
            [(10, K.DOWN), (60, K.UP)],
            id="child-recovery-waits-for-parent",
        ),
    ],
)
def test_children_of_a_down_parent_do_not_page_on_their_own(
    states: dict[float, MonitorState],
    parents: dict[float, tuple[str, ...]],
    expected: list[tuple[float, NoticeKind]],
) -> None:
    sent = play(OPS, states, parents=parents, until=200)
    assert [(minute, kind) for minute, kind, _ in sent] == expected


def test_a_child_held_by_its_parent_says_which_and_waits_for_an_event() -> None:
    decision = decide(Situation(S.DOWN, parents_down=("shop-app",)), OPS, NoticeLog(), at(10))
    assert decision.notices == ()
    assert decision.held == (Hold(HoldReason.DEPENDENCY, ("shop-app",)),)
    assert decision.wake_at is None  # the parent's recovery is the event that wakes it
    assert decision.log.held_by is HoldReason.DEPENDENCY


def flapping_story(end: MonitorState) -> dict[float, MonitorState]:
    """Down/up every 2 minutes from minute 2 to 20, then down at 22 if ``end`` is down: the
    last change is at 20 (settled up) or 22 (settled down)."""
    story = {float(m): (S.DOWN if m % 4 == 2 else S.UP) for m in range(2, 22, 2)}
    return story | ({22.0: S.DOWN} if end is S.DOWN else {})


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        pytest.param(
            S.DOWN,
            [
                (2, K.DOWN),
                (4, K.UP),
                (6, K.DOWN),
                (8, K.UP),
                (10, K.FLAPPING),
                (52, K.HELD_RELEASE),
            ],
            id="settles-down",
        ),
        pytest.param(
            S.UP,
            [(2, K.DOWN), (4, K.UP), (6, K.DOWN), (8, K.UP), (10, K.FLAPPING), (50, K.UP)],
            id="settles-up",
        ),
    ],
)
def test_flapping_sends_one_notice_then_where_it_settled(
    end: MonitorState, expected: list[tuple[float, NoticeKind]]
) -> None:
    sent = play(OPS, flapping_story(end), until=200)
    assert [(minute, kind) for minute, kind, _ in sent] == expected


def test_flapping_detection_off_sends_every_change() -> None:
    sent = play(AlertPolicy(("ops",), flapping=None), flapping_story(S.UP), until=200)
    assert len(sent) == 10


def test_flapping_inside_a_window_is_told_when_the_window_ends() -> None:
    story = {118 + m: state for m, state in flapping_story(S.DOWN).items()}
    sent = play(OPS, story, windows=[DEPLOYS], until=400)
    # flapping from 128 to 170 (30 min after the last change at 140); the window ends at 180
    assert [(minute, kind) for minute, kind, _ in sent] == [(180, K.HELD_RELEASE)]


def test_flapping_outlasting_a_window_is_told_at_its_end() -> None:
    story = {168 + m: state for m, state in flapping_story(S.DOWN).items()}
    sent = play(OPS, story, windows=[DEPLOYS], until=400)
    assert [(minute, kind) for minute, kind, _ in sent] == [
        (180, K.FLAPPING),
        (220, K.HELD_RELEASE),
    ]


def test_holds_are_listed_strongest_first() -> None:
    window = Hold(HoldReason.MAINTENANCE, ("sunday-deploys",), at(180))
    situation = Situation(S.DOWN, window, FlapStatus(True, at(100), at(150)), parents_down=("db",))
    assert holds(situation, OPS) == (
        window,
        Hold(HoldReason.DEPENDENCY, ("db",)),
        Hold(HoldReason.FLAPPING, (), at(150)),
    )
    assert holds(situation, AlertPolicy(flapping=None))[-1].reason is HoldReason.DEPENDENCY


@pytest.mark.parametrize(
    ("situation", "log", "wake"),
    [
        pytest.param(Situation(S.UP), NoticeLog(Told.UP), None, id="up-nothing-to-wait-for"),
        pytest.param(
            Situation(S.UP, Hold(HoldReason.MAINTENANCE, ("w",), at(180))),
            NoticeLog(),
            None,
            id="window-with-nothing-held",
        ),
        pytest.param(
            Situation(S.DOWN, Hold(HoldReason.SILENCE, (), at(180))),
            NoticeLog(),
            at(180),
            id="silence-holding-a-down",
        ),
        pytest.param(
            Situation(S.UP, flapping=FlapStatus(True, at(10), at(40))),
            NoticeLog(Told.FLAPPING),
            at(40),
            id="flapping-until-stable",
        ),
        pytest.param(
            Situation(S.DOWN), NoticeLog(Told.DOWN, paged_at=at(0)), None, id="down-no-timers"
        ),
        pytest.param(
            Situation(
                S.DOWN,
                Hold(HoldReason.MAINTENANCE, ("w",), at(180)),
                FlapStatus(True, at(100), at(150)),
            ),
            NoticeLog(),
            at(150),
            id="the-first-hold-to-end",
        ),
    ],
)
def test_next_wakeup(situation: Situation, log: NoticeLog, wake: datetime | None) -> None:
    assert next_wakeup(situation, OPS, log) == wake


def test_an_engine_can_sleep_exactly_until_the_next_timer() -> None:
    policy = AlertPolicy(("ops",), remind=Reminders(2 * H), escalate=Escalation(H, ("pager",)))
    first = decide(Situation(S.DOWN), policy, NoticeLog(), at(10))
    assert first.wake_at == at(70)
    early = decide(Situation(S.DOWN), policy, first.log, at(69))
    assert early == Decision((), first.log, (), at(70))
    second = decide(Situation(S.DOWN), policy, first.log, at(70))
    assert second.wake_at == at(130)


@pytest.mark.parametrize(
    "thing",
    [
        pytest.param(NoticeLog(), id="empty-log"),
        pytest.param(
            NoticeLog(Told.DOWN, at(1), 2, at(3), at(4), at(5), HoldReason.SILENCE),
            id="full-log",
        ),
        pytest.param(Notice(K.REMINDER, ("ops", "pager"), 3), id="notice"),
        pytest.param(
            Notice(K.HELD_RELEASE, ("ops",), 0, HoldReason.DEPENDENCY, at(5)), id="release"
        ),
    ],
)
def test_round_trip_through_json(thing: NoticeLog | Notice) -> None:
    assert type(thing).from_json(json.loads(json.dumps(thing.to_json()))) == thing
