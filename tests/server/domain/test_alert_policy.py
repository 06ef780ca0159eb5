"""Alert policies, table-driven: config dicts and project defaults in, policies or every
problem by field out."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tocsin.errors import ValidationError
from tocsin.server.domain.alert_policy import (
    AlertPolicy,
    Escalation,
    ReminderCaps,
    Reminders,
    alert_policy,
    policy_defaults,
    unknown_channels,
)
from tocsin.server.domain.flapping import FlapPolicy

H = timedelta(hours=1)
M = timedelta(minutes=1)


def test_defaults_are_what_users_of_other_tools_expect() -> None:
    policy = alert_policy({})
    assert policy == AlertPolicy(
        channels=(),
        notify_on_recovery=True,
        remind=None,
        escalate=None,
        flapping=FlapPolicy(changes=5, within=30 * M),
        depends_on=(),
    )
    assert ReminderCaps() == ReminderCaps(max_count=10, min_interval=5 * M)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {"channels": ["ops-mail", "ops-slack"]},
            AlertPolicy(channels=("ops-mail", "ops-slack")),
            id="channels",
        ),
        pytest.param({"remind": "2h"}, AlertPolicy(remind=Reminders(2 * H)), id="remind-short"),
        pytest.param({"remind": 7200}, AlertPolicy(remind=Reminders(2 * H)), id="remind-seconds"),
        pytest.param(
            {"remind": {"every": "30m", "max": 3}},
            AlertPolicy(remind=Reminders(30 * M, 3)),
            id="remind-long",
        ),
        pytest.param(
            {"escalate": {"after": "1h", "channels": ["pager"]}},
            AlertPolicy(escalate=Escalation(H, ("pager",))),
            id="escalate",
        ),
        pytest.param(
            {"notify_on_recovery": False}, AlertPolicy(notify_on_recovery=False), id="no-recovery"
        ),
        pytest.param({"flapping": "off"}, AlertPolicy(flapping=None), id="flapping-off"),
        pytest.param(
            {"flapping": {"changes": 3, "within": "10m"}},
            AlertPolicy(flapping=FlapPolicy(3, 10 * M)),
            id="flapping-tuned",
        ),
        pytest.param(
            {"depends_on": ["shop-app"]}, AlertPolicy(depends_on=("shop-app",)), id="depends-on"
        ),
        pytest.param(
            {"name": "invoice-cron", "cron": "0 3 * * *", "grace": "30m"},
            AlertPolicy(),
            id="other-monitor-keys-ignored",
        ),
    ],
)
def test_alert_policy(data: dict[str, Any], expected: AlertPolicy) -> None:
    assert alert_policy(data) == expected


PROJECT = policy_defaults(
    {
        "channels": ["ops-mail"],
        "remind": "4h",
        "escalate": {"after": "2h", "channels": ["pager"]},
        "notify_on_recovery": False,
    }
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {},
            AlertPolicy(("ops-mail",), False, Reminders(4 * H), Escalation(2 * H, ("pager",))),
            id="inherits-everything",
        ),
        pytest.param(
            {"channels": ["ops-slack"]},
            AlertPolicy(("ops-slack",), False, Reminders(4 * H), Escalation(2 * H, ("pager",))),
            id="channels-replace-not-merge",
        ),
        pytest.param(
            {"remind": "off", "escalate": "off", "notify_on_recovery": True},
            AlertPolicy(("ops-mail",), True, None, None),
            id="off-turns-inherited-off",
        ),
        pytest.param(
            {"remind": None},
            AlertPolicy(("ops-mail",), False, Reminders(4 * H), Escalation(2 * H, ("pager",))),
            id="null-inherits",
        ),
        pytest.param(
            {"escalate": {"after": "30m", "channels": ["phone"]}},
            AlertPolicy(("ops-mail",), False, Reminders(4 * H), Escalation(30 * M, ("phone",))),
            id="escalate-replaced-whole",
        ),
    ],
)
def test_monitors_start_from_the_project_defaults(
    data: dict[str, Any], expected: AlertPolicy
) -> None:
    assert alert_policy(data, PROJECT) == expected


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        pytest.param({"remind": "1m"}, {"remind": "at least 5m"}, id="remind-below-floor"),
        pytest.param({"remind": "often"}, {"remind": "or off, or {every"}, id="remind-unreadable"),
        pytest.param({"remind": {"max": 3}}, {"remind.every": "is required"}, id="remind-no-every"),
        pytest.param(
            {"remind": {"every": "1h", "max": 11}},
            {"remind.max": "from 1 to 10"},
            id="remind-max-above-cap",
        ),
        pytest.param(
            {"remind": {"every": "1h", "times": 2}},
            {"remind.times": "unknown field"},
            id="remind-unknown-key",
        ),
        pytest.param({"escalate": "1h"}, {"escalate": "must be like"}, id="escalate-not-a-map"),
        pytest.param(
            {"escalate": {"after": "1h"}},
            {"escalate.channels": "is required"},
            id="escalate-no-channels",
        ),
        pytest.param(
            {"escalate": {"channels": ["pager"], "after": "30s"}},
            {"escalate.after": "at least 1m"},
            id="escalate-too-soon",
        ),
        pytest.param(
            {"escalate": {"channels": "pager", "after": "1h"}},
            {"escalate.channels": "list"},
            id="escalate-channels-not-a-list",
        ),
        pytest.param(
            {"notify_on_recovery": "yes"}, {"notify_on_recovery": "true or false"}, id="not-bool"
        ),
        pytest.param({"channels": "ops"}, {"channels": "list"}, id="channels-not-a-list"),
        pytest.param({"depends_on": [""]}, {"depends_on": "non-empty"}, id="blank-parent"),
        pytest.param({"flapping": {"changes": 1}}, {"flapping.changes": "from 2"}, id="flap"),
        pytest.param(
            {"remind": "1m", "escalate": {}, "notify_on_recovery": 1},
            {
                "remind": "at least",
                "escalate.after": "is required",
                "escalate.channels": "is required",
                "notify_on_recovery": "true or false",
            },
            id="every-problem-listed",
        ),
    ],
)
def test_alert_policy_problems(data: dict[str, Any], problems: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        alert_policy(data)
    assert set(caught.value.fields) == set(problems)
    for key, words in problems.items():
        assert words in caught.value.fields[key]


def test_the_server_caps_are_checked_and_named() -> None:
    caps = ReminderCaps(max_count=3, min_interval=H)
    with pytest.raises(ValidationError) as caught:
        alert_policy({"remind": {"every": "30m", "max": 5}}, caps=caps)
    assert caught.value.fields == {
        "remind.every": "must be at least 1h (the server's TOCSIN_REMIND_MIN_INTERVAL)",
        "remind.max": "must be a whole number from 1 to 3 (the server's TOCSIN_REMIND_MAX)",
    }


@pytest.mark.parametrize(
    ("reminders", "caps", "effective"),
    [
        pytest.param(Reminders(2 * H), ReminderCaps(), (2 * H, 10), id="server-count"),
        pytest.param(Reminders(2 * H, 3), ReminderCaps(), (2 * H, 3), id="own-count"),
        pytest.param(Reminders(M, 30), ReminderCaps(5, 10 * M), (10 * M, 5), id="caps-tightened"),
    ],
)
def test_caps_apply_even_after_validation(
    reminders: Reminders, caps: ReminderCaps, effective: tuple[timedelta, int]
) -> None:
    assert reminders.effective(caps) == effective


def test_defaults_refuse_per_monitor_and_unknown_keys() -> None:
    with pytest.raises(ValidationError) as caught:
        policy_defaults({"depends_on": ["db"], "remind": "1s", "colour": "red"})
    assert set(caught.value.fields) == {"depends_on", "remind", "colour"}
    assert "unknown field" in caught.value.fields["depends_on"]
    with pytest.raises(ValidationError):
        policy_defaults(["ops"])  # type: ignore[arg-type]
    assert policy_defaults(None) == AlertPolicy()


def test_unknown_channels_are_named_by_field() -> None:
    policy = alert_policy(
        {"channels": ["ops", "slack"], "escalate": {"after": "1h", "channels": ["pager"]}}
    )
    assert unknown_channels(policy, {"ops"}) == {
        "channels[1]": "no channel named 'slack'",
        "escalate.channels[0]": "no channel named 'pager'",
    }
    assert unknown_channels(policy, {"ops", "slack", "pager"}) == {}


def test_recipients_add_escalation_channels_once_escalated() -> None:
    policy = AlertPolicy(("ops", "pager"), escalate=Escalation(H, ("pager", "phone")))
    assert policy.recipients(escalated=False) == ("ops", "pager")
    assert policy.recipients(escalated=True) == ("ops", "pager", "phone")


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(AlertPolicy(), id="defaults"),
        pytest.param(
            AlertPolicy(
                ("ops",),
                False,
                Reminders(2 * H, 4),
                Escalation(H, ("pager",)),
                None,
                ("shop-app",),
            ),
            id="everything-set",
        ),
        pytest.param(AlertPolicy(remind=Reminders(M)), id="below-todays-caps-still-loads"),
    ],
)
def test_policy_round_trips_through_json(policy: AlertPolicy) -> None:
    assert AlertPolicy.from_json(json.loads(json.dumps(policy.to_json()))) == policy


def test_the_json_form_is_the_config_form() -> None:
    policy = alert_policy({"remind": "2h", "escalate": {"after": "1h", "channels": ["pager"]}})
    assert alert_policy(policy.to_json()) == policy
