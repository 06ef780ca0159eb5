"""The plan: a pure diff of the file's specs against the server's objects."""

from __future__ import annotations

from typing import Any

import pytest

from tocsin.server.config.plan import Action, ObjectKind, make_plan
from tocsin.server.config.validate import DesiredState
from tocsin.server.domain.spec import channel_spec, monitor_spec

BACKUP = {"name": "backup", "period": "1d", "grace": "1h", "channels": ["ops"]}
OPS = {"name": "ops", "kind": "webhook", "url": "http://hooks/ops"}


def monitor_json(**changes: Any) -> dict[str, Any]:
    """A monitor as the server shows it, matching ``BACKUP`` unless changed."""
    data: dict[str, Any] = {
        "uuid": "m-1",
        "name": "backup",
        "slug": "backup",
        "kind": "heartbeat",
        "desc": "",
        "tags": [],
        "period": "1d",
        "period_seconds": 86400.0,
        "cron": None,
        "timezone": "UTC",
        "grace": "1h",
        "grace_seconds": 3600.0,
        "state": "up",
        "channels": ["ops"],
        "managed_by": "config",
    }
    return data | changes


def channel_json(**changes: Any) -> dict[str, Any]:
    """A channel as the server shows it, matching ``OPS`` unless changed."""
    data = {"uuid": "c-1", "name": "ops", "kind": "webhook", "url": "http://hooks/ops"}
    return data | {"managed_by": "config"} | changes


def desired(monitors: list[dict[str, Any]], channels: list[dict[str, Any]]) -> DesiredState:
    return DesiredState(
        channels=tuple(channel_spec(c) for c in channels),
        monitors=tuple(monitor_spec(m) for m in monitors),
    )


CASES = [
    pytest.param(
        [BACKUP],
        [OPS],
        [],
        [],
        False,
        [
            "+ channel ops (webhook)",
            "+ monitor backup (heartbeat, period 1d, grace 1h, channels [ops])",
        ],
        id="everything-new",
    ),
    pytest.param([BACKUP], [OPS], [monitor_json()], [channel_json()], False, [], id="same"),
    pytest.param(
        [BACKUP | {"period": "2h"}],
        [OPS],
        [monitor_json()],
        [channel_json()],
        False,
        ["~ monitor backup: period 1d → 2h"],
        id="period",
    ),
    pytest.param(
        [{"name": "backup", "cron": "0 3 * * *", "timezone": "Europe/Berlin", "grace": "1h"}],
        [],
        [monitor_json(channels=[])],
        [],
        False,
        [
            "~ monitor backup: period 1d → none, cron none → '0 3 * * *', "
            "timezone UTC → Europe/Berlin"
        ],
        id="period-to-cron",
    ),
    pytest.param(
        [BACKUP | {"tags": ["db"], "desc": "nightly", "channels": []}],
        [],
        [monitor_json()],
        [],
        False,
        ["~ monitor backup: desc none → 'nightly', tags [] → [db], channels [ops] → []"],
        id="desc-tags-channels",
    ),
    pytest.param(
        [BACKUP],
        [OPS],
        [monitor_json(managed_by="api")],
        [channel_json()],
        False,
        ["~ monitor backup: managed_by api → config"],
        id="adopts-hand-made",
    ),
    pytest.param(
        [],
        [OPS | {"url": "http://hooks/secret-token", "headers": {"A": "b"}, "timeout": 5}],
        [],
        [channel_json(timeout=10.0)],
        False,
        ["~ channel ops: headers changed, timeout 10s → 5s, url changed"],
        id="channel-secrets-hidden",
    ),
    pytest.param(
        [],
        [],
        [monitor_json()],
        [channel_json()],
        False,
        [],
        id="no-prune-keeps",
    ),
    pytest.param(
        [],
        [],
        [monitor_json()],
        [channel_json()],
        True,
        ["- monitor backup", "- channel ops"],
        id="prune-deletes-monitors-first",
    ),
    pytest.param(
        [BACKUP | {"name": "new"}],
        [OPS | {"name": "new-ops"}],
        [monitor_json()],
        [channel_json()],
        True,
        [
            "+ channel new-ops (webhook)",
            "+ monitor new (heartbeat, period 1d, grace 1h, channels [ops])",
            "- monitor backup",
            "- channel ops",
        ],
        id="rename-is-create-and-delete",
    ),
]


@pytest.mark.parametrize(
    ("monitors", "channels", "have_monitors", "have_channels", "prune", "lines"), CASES
)
def test_plan(
    monitors: list[dict[str, Any]],
    channels: list[dict[str, Any]],
    have_monitors: list[dict[str, Any]],
    have_channels: list[dict[str, Any]],
    prune: bool,
    lines: list[str],
) -> None:
    plan = make_plan(desired(monitors, channels), have_channels, have_monitors, prune=prune)
    assert [change.describe() for change in plan.changes] == lines


def test_unchanged_and_kept_are_listed() -> None:
    plan = make_plan(
        desired([BACKUP], [OPS]),
        [channel_json(), channel_json(uuid="c-2", name="spare")],
        [monitor_json(), monitor_json(uuid="m-2", name="old")],
    )
    assert plan.empty
    assert plan.unchanged == ("channel ops", "monitor backup")
    assert plan.kept == ("channel spare", "monitor old")


def test_changes_carry_the_existing_uuid_and_spec() -> None:
    plan = make_plan(desired([BACKUP | {"grace": 60}], [OPS]), [channel_json()], [monitor_json()])
    [change] = plan.changes
    assert (change.action, change.kind, change.key) == (
        Action.UPDATE,
        ObjectKind.MONITOR,
        "m-1",
    )
    assert change.spec == monitor_spec(BACKUP | {"grace": 60})
    assert (plan.count(Action.UPDATE), plan.count(Action.CREATE)) == (1, 0)
