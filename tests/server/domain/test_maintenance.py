"""Maintenance windows and silences, table-driven: windows and a time in, holds out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tocsin.errors import ValidationError
from tocsin.server.domain.maintenance import (
    Hold,
    HoldReason,
    MaintenanceWindow,
    Silence,
    active_window,
    cron_never_fires,
    current_hold,
    maintenance_window,
    window_ends_after,
    windows_for,
)

SUNDAY = datetime(2026, 11, 22, tzinfo=UTC)  # a Sunday
SUNDAY_DEPLOYS = maintenance_window(
    {"name": "sunday-deploys", "cron": "0 2 * * 0", "duration": "1h", "monitors": ["shop-app"]}
)
ONE_OFF = maintenance_window(
    {
        "name": "db-upgrade",
        "start": "2026-11-22T10:00:00Z",
        "end": "2026-11-22T12:00:00Z",
        "monitors": ["*"],
    }
)


def at(hours: float, day: datetime = SUNDAY) -> datetime:
    return day + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("window", "when", "running"),
    [
        pytest.param(SUNDAY_DEPLOYS, at(1.99), None, id="cron-before"),
        pytest.param(SUNDAY_DEPLOYS, at(2), (at(2), at(3)), id="cron-at-start"),
        pytest.param(SUNDAY_DEPLOYS, at(2.99), (at(2), at(3)), id="cron-inside"),
        pytest.param(SUNDAY_DEPLOYS, at(3), None, id="cron-end-excluded"),
        pytest.param(SUNDAY_DEPLOYS, at(2 - 24), None, id="cron-saturday-nothing"),
        pytest.param(SUNDAY_DEPLOYS, at(2.5 + 168), (at(170), at(171)), id="cron-next-sunday"),
        pytest.param(ONE_OFF, at(9.99), None, id="one-off-before"),
        pytest.param(ONE_OFF, at(10), (at(10), at(12)), id="one-off-start"),
        pytest.param(ONE_OFF, at(12), None, id="one-off-end-excluded"),
    ],
)
def test_occurrence_at(
    window: MaintenanceWindow, when: datetime, running: tuple[datetime, datetime] | None
) -> None:
    assert window.occurrence_at(when) == running


def test_cron_windows_run_in_their_time_zone() -> None:
    berlin = maintenance_window(
        {
            "name": "nightly",
            "cron": "0 2 * * *",
            "duration": "1h",
            "timezone": "Europe/Berlin",
            "monitors": ["*"],
        }
    )
    assert berlin.occurrence_at(at(1.5)) == (at(1), at(2))  # 02:00 CET is 01:00 UTC
    assert berlin.occurrence_at(at(2.5)) is None


def test_a_window_in_the_skipped_hour_of_spring_forward_starts_at_three() -> None:
    window = maintenance_window(
        {
            "name": "night",
            "cron": "30 2 * * *",
            "duration": "1h",
            "timezone": "Europe/Berlin",
            "monitors": ["*"],
        }
    )
    day = datetime(2026, 3, 29, tzinfo=UTC)  # 02:00-03:00 Berlin time does not exist
    assert window.occurrence_at(at(1.5, day)) == (at(1, day), at(2, day))


def test_duration_is_real_time_across_the_autumn_clock_change() -> None:
    window = maintenance_window(
        {
            "name": "night",
            "cron": "30 1 * * *",
            "duration": "2h",
            "timezone": "Europe/Berlin",
            "monitors": ["*"],
        }
    )
    day = datetime(2026, 10, 25, tzinfo=UTC)  # 03:00 CEST becomes 02:00 CET
    start, end = at(-0.5, day), at(1.5, day)  # 01:30 CEST to 02:30 CET, two real hours
    assert window.occurrence_at(at(1.25, day)) == (start, end)
    assert window.occurrence_at(at(1.5, day)) is None


def test_active_window_names_the_windows_and_when_they_end() -> None:
    windows = [SUNDAY_DEPLOYS, ONE_OFF]
    assert active_window(windows, at(2.5)) == Hold(
        HoldReason.MAINTENANCE, ("sunday-deploys",), at(3)
    )
    assert active_window(windows, at(5)) is None
    assert window_ends_after(windows, at(11)) == at(12)
    assert window_ends_after(windows, at(5)) is None


@pytest.mark.parametrize(
    ("second", "end"),
    [
        pytest.param({"start": "2026-11-22T03:00:00Z", "duration": "1h"}, 4, id="back-to-back"),
        pytest.param({"start": "2026-11-22T02:30:00Z", "duration": "3h"}, 5.5, id="overlapping"),
        pytest.param({"start": "2026-11-22T03:01:00Z", "duration": "1h"}, 3, id="gap-not-chained"),
    ],
)
def test_windows_that_touch_or_overlap_make_one_hold(second: dict[str, Any], end: float) -> None:
    windows = [SUNDAY_DEPLOYS, maintenance_window({"name": "b", "monitors": ["*"], **second})]
    assert window_ends_after(windows, at(2.5)) == at(end)
    hold = active_window(windows, at(2.75))
    assert hold is not None
    assert hold.until == at(end)


def test_a_window_that_fires_more_often_than_it_lasts_ends_at_the_chain_limit() -> None:
    always = maintenance_window(
        {"name": "always", "cron": "0 * * * *", "duration": "2h", "monitors": ["*"]}
    )
    end = window_ends_after([always], at(0.5))
    assert end is not None
    assert end > at(100)


def test_silences_hold_one_monitor_until_a_time() -> None:
    silence = Silence("invoice-cron", at(1), at(4))
    assert current_hold([], [silence], at(0.5)) is None
    assert current_hold([], [silence], at(1)) == Hold(HoldReason.SILENCE, (), at(4))
    assert current_hold([SUNDAY_DEPLOYS], [silence], at(2.5)) == Hold(
        HoldReason.MAINTENANCE, ("sunday-deploys",), at(4)
    )
    assert current_hold([SUNDAY_DEPLOYS], [silence], at(4)) is None


def test_windows_for_picks_the_monitors_windows() -> None:
    windows = [SUNDAY_DEPLOYS, ONE_OFF]
    assert windows_for(windows, "shop-app") == windows
    assert windows_for(windows, "invoice-cron") == [ONE_OFF]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {
                "name": "w",
                "monitors": ["a"],
                "start": "2026-11-22T10:00:00+01:00",
                "end": "2026-11-22T11:00:00+01:00",
            },
            (at(9), at(10)),
            id="offsets-kept",
        ),
        pytest.param(
            {
                "name": "w",
                "monitors": ["a"],
                "start": "2026-11-22 10:00",
                "duration": "90m",
                "timezone": "Europe/Berlin",
            },
            (at(9), at(10.5)),
            id="start-plus-duration-local-time",
        ),
        pytest.param(
            {"name": "w", "monitors": ["a"], "start": SUNDAY, "end": at(1)},
            (SUNDAY, at(1)),
            id="yaml-timestamps",
        ),
    ],
)
def test_one_off_times(data: dict[str, Any], expected: tuple[datetime, datetime]) -> None:
    window = maintenance_window(data)
    assert (window.start, window.end) == expected


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        pytest.param(
            {"cron": "0 0 31 2 *"}, {"cron": "never fires"}, id="february-31st-never-fires"
        ),
        pytest.param({"cron": "0 0 31 4,6 *"}, {"cron": "never fires"}, id="april-31st"),
        pytest.param({"cron": "0 0 * *"}, {"cron": "not a valid cron"}, id="bad-cron"),
        pytest.param(
            {"cron": "0 2 * * 0", "duration": None}, {"duration": "is required"}, id="no-duration"
        ),
        pytest.param(
            {"start": "2026-11-22T10:00:00Z"}, {"start": "either cron"}, id="cron-and-start"
        ),
        pytest.param(
            {"cron": None, "duration": None},
            {"start": "is required", "end": "is required"},
            id="neither",
        ),
        pytest.param(
            {
                "cron": None,
                "start": "2026-11-22T10:00:00Z",
                "end": "2026-11-22T09:00:00Z",
                "duration": None,
            },
            {"end": "after start"},
            id="end-before-start",
        ),
        pytest.param(
            {"cron": None, "start": "next sunday", "end": "2026-11-22T09:00:00Z", "duration": None},
            {"start": "date and time"},
            id="unreadable-time",
        ),
        pytest.param({"monitors": []}, {"monitors": "is required"}, id="no-monitors"),
        pytest.param({"monitors": "shop-app"}, {"monitors": "list"}, id="monitors-not-a-list"),
        pytest.param({"name": " "}, {"name": "is required"}, id="blank-name"),
        pytest.param(
            {"timezone": "Mars/Olympus"}, {"timezone": "not a known time zone"}, id="bad-zone"
        ),
        pytest.param({"colour": "red"}, {"colour": "unknown field"}, id="unknown-field"),
        pytest.param(
            {"cron": "0 0 31 2 *", "duration": "forever", "monitors": None},
            {"cron": "never fires", "duration": "not a duration", "monitors": "is required"},
            id="every-problem-listed",
        ),
    ],
)
def test_window_problems(data: dict[str, Any], problems: dict[str, str]) -> None:
    base = {"name": "w", "monitors": ["a"], "cron": "0 2 * * 0", "duration": "1h"}
    with pytest.raises(ValidationError) as caught:
        maintenance_window({**base, **data})
    assert set(caught.value.fields) == set(problems)
    for key, words in problems.items():
        assert words in caught.value.fields[key]


@pytest.mark.parametrize(
    ("expression", "fires"),
    [
        pytest.param("0 2 * * 0", True, id="weekly"),
        pytest.param("@daily", True, id="alias"),
        pytest.param("0 0 29 2 *", True, id="leap-day"),
        pytest.param("0 0 30 2 *", False, id="february-30th"),
    ],
)
def test_cron_never_fires(expression: str, fires: bool) -> None:
    assert (cron_never_fires(expression) is None) is fires


@pytest.mark.parametrize(
    "thing",
    [
        pytest.param(SUNDAY_DEPLOYS, id="cron-window"),
        pytest.param(ONE_OFF, id="one-off-window"),
        pytest.param(Silence("invoice-cron", at(1), at(3)), id="silence"),
        pytest.param(Hold(HoldReason.MAINTENANCE, ("a", "b"), at(3)), id="hold"),
        pytest.param(Hold(HoldReason.DEPENDENCY, ("shop-app",)), id="hold-without-end"),
    ],
)
def test_round_trip_through_json(thing: MaintenanceWindow | Silence | Hold) -> None:
    assert type(thing).from_json(json.loads(json.dumps(thing.to_json()))) == thing
