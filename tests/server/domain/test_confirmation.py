"""Confirmation counts, table-driven: verdict sequences in, states, alerts and progress out."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tocsin.errors import ValidationError
from tocsin.health.model import Status
from tocsin.server.domain.confirmation import (
    ConfirmationState,
    ConfirmPolicy,
    confirm,
    confirm_policy,
    next_interval,
    progress,
    retry_due,
)
from tocsin.server.domain.states import AlertKind, MonitorState

P, W, F = Status.PASS, Status.WARN, Status.FAIL
S = MonitorState
DOWN, UP = AlertKind.DOWN, AlertKind.UP


def run(
    verdicts: list[Status], policy: ConfirmPolicy, start: ConfirmationState | None = None
) -> list[tuple[MonitorState, AlertKind | None, str | None]]:
    """Feed ``verdicts`` one by one: after each, the state, the alert raised and progress."""
    current = start or ConfirmationState()
    steps = []
    for verdict in verdicts:
        current, flip = confirm(current, verdict, policy)
        steps.append((current.state, flip.alert if flip else None, progress(current, policy)))
    return steps


@pytest.mark.parametrize(
    ("verdicts", "policy", "expected"),
    [
        pytest.param([P], ConfirmPolicy(), [(S.UP, None, None)], id="new-first-pass-is-up-at-once"),
        pytest.param(
            [F, F],
            ConfirmPolicy(),
            [(S.NEW, None, "failing 1/2"), (S.DOWN, DOWN, None)],
            id="new-down-after-two-failures-alerts",
        ),
        pytest.param(
            [P, F, P, F, P],
            ConfirmPolicy(),
            [
                (S.UP, None, None),
                (S.UP, None, "failing 1/2"),
                (S.UP, None, None),
                (S.UP, None, "failing 1/2"),
                (S.UP, None, None),
            ],
            id="blips-never-page",
        ),
        pytest.param(
            [P, F, F, F, P],
            ConfirmPolicy(),
            [
                (S.UP, None, None),
                (S.UP, None, "failing 1/2"),
                (S.DOWN, DOWN, None),
                (S.DOWN, None, None),
                (S.UP, UP, None),
            ],
            id="down-once-then-recovers",
        ),
        pytest.param(
            [P, F],
            ConfirmPolicy(fail=1),
            [(S.UP, None, None), (S.DOWN, DOWN, None)],
            id="fail-1-is-immediate",
        ),
        pytest.param(
            [F, F, F, P, P, F, P, P, P],
            ConfirmPolicy(fail=3, recover=3),
            [
                (S.NEW, None, "failing 1/3"),
                (S.NEW, None, "failing 2/3"),
                (S.DOWN, DOWN, None),
                (S.DOWN, None, "recovering 1/3"),
                (S.DOWN, None, "recovering 2/3"),
                (S.DOWN, None, None),
                (S.DOWN, None, "recovering 1/3"),
                (S.DOWN, None, "recovering 2/3"),
                (S.UP, UP, None),
            ],
            id="recovery-count-restarts-on-a-failure",
        ),
        pytest.param(
            [W, F, W],
            ConfirmPolicy(),
            [(S.UP, None, None), (S.UP, None, "failing 1/2"), (S.UP, None, None)],
            id="warn-counts-as-up",
        ),
        pytest.param(
            [F, F, W],
            ConfirmPolicy(),
            [(S.NEW, None, "failing 1/2"), (S.DOWN, DOWN, None), (S.UP, UP, None)],
            id="warn-recovers",
        ),
    ],
)
def test_confirm_sequences(
    verdicts: list[Status],
    policy: ConfirmPolicy,
    expected: list[tuple[MonitorState, AlertKind | None, str | None]],
) -> None:
    assert run(verdicts, policy) == expected


def test_a_paused_monitor_is_left_alone() -> None:
    paused = ConfirmationState(S.PAUSED)
    assert confirm(paused, F, ConfirmPolicy(fail=1)) == (paused, None)
    assert progress(paused, ConfirmPolicy()) is None


def test_the_flip_carries_the_cause_and_the_state_the_last_verdict() -> None:
    failing = ConfirmationState(S.UP, consecutive_failures=1, verdict=F)
    current, flip = confirm(failing, F, ConfirmPolicy(), "status (503) == 200")
    assert flip is not None
    assert (flip.old_state, flip.new_state, flip.cause) == (S.UP, S.DOWN, "status (503) == 200")
    assert current == ConfirmationState(S.DOWN, 2, 0, F)
    _, default = confirm(failing, F, ConfirmPolicy())
    assert default is not None and default.cause == "2 checks failed in a row"
    up, _ = confirm(ConfirmationState(S.UP, 0, 5, P), W, ConfirmPolicy())
    assert up == ConfirmationState(S.UP, 0, 6, W)


def test_states_round_trip_through_json() -> None:
    state = ConfirmationState(S.DOWN, 3, 1, W)
    stored = json.loads(json.dumps(state.to_json()))
    assert stored == {
        "state": "down",
        "consecutive_failures": 3,
        "consecutive_successes": 1,
        "verdict": "warn",
    }
    assert ConfirmationState.from_json(stored) == state


MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("current", "policy", "due", "interval"),
    [
        pytest.param(ConfirmationState(S.UP), ConfirmPolicy(), False, MINUTE, id="healthy"),
        pytest.param(
            ConfirmationState(S.UP, 1),
            ConfirmPolicy(),
            True,
            timedelta(seconds=10),
            id="failing-default-retry",
        ),
        pytest.param(
            ConfirmationState(S.NEW, 2),
            ConfirmPolicy(fail=3, retry=timedelta(seconds=5)),
            True,
            timedelta(seconds=5),
            id="failing-own-retry",
        ),
        pytest.param(
            ConfirmationState(S.UP, 1),
            ConfirmPolicy(retry=timedelta(minutes=5)),
            True,
            MINUTE,
            id="retry-never-longer-than-interval",
        ),
        pytest.param(
            ConfirmationState(S.DOWN, 7), ConfirmPolicy(), False, MINUTE, id="down-normal-interval"
        ),
        pytest.param(
            ConfirmationState(S.DOWN, 0, 1),
            ConfirmPolicy(recover=2),
            False,
            MINUTE,
            id="recovering-normal-interval",
        ),
        pytest.param(ConfirmationState(S.PAUSED, 1), ConfirmPolicy(), False, MINUTE, id="paused"),
    ],
)
def test_retry_interval(
    current: ConfirmationState, policy: ConfirmPolicy, due: bool, interval: timedelta
) -> None:
    assert retry_due(current, policy) is due
    assert next_interval(current, policy, MINUTE) == interval


def test_policy_config() -> None:
    assert confirm_policy(None) == ConfirmPolicy(2, 1)
    policy = confirm_policy({"fail": 3, "recover": 2, "retry": "15s"})
    assert policy == ConfirmPolicy(3, 2, timedelta(seconds=15))
    assert policy.to_json() == {"fail": 3, "recover": 2, "retry": "15s"}
    assert confirm_policy({"recover": 3}) == ConfirmPolicy(2, 3)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        pytest.param(
            {"fail": 0}, {"confirm.fail": "must be a whole number from 1 to 100"}, id="zero"
        ),
        pytest.param(
            {"fail": True, "recover": "2"},
            {
                "confirm.fail": "must be a whole number from 1 to 100",
                "confirm.recover": "must be a whole number from 1 to 100",
            },
            id="bool-and-string",
        ),
        pytest.param(
            {"retry": "soon"},
            {"confirm.retry": "'soon' is not a duration; use seconds or 30s, 5m, 2h, 1d, 1w"},
            id="bad-retry",
        ),
        pytest.param({"retry": 0.5}, {"confirm.retry": "must be at least 1s"}, id="short-retry"),
        pytest.param(
            {"retry": "500ms"}, {"confirm.retry": "must be at least 1s"}, id="retry-in-ms"
        ),
        pytest.param({"retry": 0}, {"confirm.retry": "must be at least 1s"}, id="zero-retry"),
        pytest.param(
            {"fails": 2},
            {"confirm.fails": "unknown field; expected one of fail, recover, retry"},
            id="unknown-field",
        ),
    ],
)
def test_policy_config_errors(data: dict[str, Any], errors: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        confirm_policy(data)
    assert caught.value.fields == errors
