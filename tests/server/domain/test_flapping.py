"""Flapping, table-driven: flip times in, flapping status out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tocsin.errors import ValidationError
from tocsin.server.domain.flapping import FlapPolicy, FlapStatus, flap_policy, flap_status

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICY = FlapPolicy()  # 5 changes within 30 minutes


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def follow(flips: list[float], check: float, policy: FlapPolicy = POLICY) -> FlapStatus:
    """Status at minute ``check`` when the engine updated it at each flip, as it does."""
    status = FlapStatus()
    for index, minute in enumerate(flips):
        status = flap_status(status, [at(m) for m in flips[: index + 1]], at(minute), policy)
    return flap_status(status, [at(m) for m in flips if m <= check], at(check), policy)


@pytest.mark.parametrize(
    ("flips", "check", "flapping", "since", "until"),
    [
        pytest.param([], 0, False, None, None, id="no-flips-stable"),
        pytest.param([0, 5, 10, 15], 15, False, None, None, id="four-changes-not-yet"),
        pytest.param([0, 5, 10, 15, 20], 20, True, 20, 50, id="fifth-change-in-30m-flaps"),
        pytest.param([0, 10, 20, 30, 40], 40, False, None, None, id="five-spread-over-40m-not"),
        pytest.param([0, 1, 2, 3, 29.9], 29.9, True, 29.9, 59.9, id="just-inside-window"),
        pytest.param([0, 1, 2, 3, 30], 30, False, None, None, id="window-excludes-its-start"),
        pytest.param([0, 5, 10, 15, 20], 49, True, 20, 50, id="quiet-but-not-long-enough"),
        pytest.param([0, 5, 10, 15, 20], 50, False, None, None, id="stable-after-30m-quiet"),
        pytest.param(
            [0, 2, 4, 6, 8, 28, 48, 68], 90, True, 8, 98, id="slow-changes-keep-it-flapping"
        ),
        pytest.param([0, 2, 4, 6, 8, 40], 45, False, None, None, id="a-30m-gap-ends-it"),
        pytest.param(
            [0, 2, 4, 6, 8, 40, 41, 42, 43, 44], 44, True, 44, 74, id="flaps-again-from-scratch"
        ),
    ],
)
def test_flap_status(
    flips: list[float], check: float, flapping: bool, since: float | None, until: float | None
) -> None:
    status = follow(flips, check)
    assert status == FlapStatus(
        flapping,
        at(since) if since is not None else None,
        at(until) if until is not None else None,
    )


def test_the_last_few_flips_are_enough_to_carry_on() -> None:
    flips = [at(m) for m in (0, 2, 4, 6, 8, 28, 48, 68)]
    status = FlapStatus()
    for index, flip in enumerate(flips):
        recent = flips[max(0, index - POLICY.changes + 1) : index + 1]
        status = flap_status(status, recent, flip, POLICY)
    assert status == FlapStatus(True, at(8), at(98))


def test_an_unfollowed_burst_is_still_seen_later() -> None:
    """The engine missed the updates (a restart): one call over the flips finds it."""
    status = flap_status(FlapStatus(), [at(m) for m in (0, 1, 2, 3, 4)], at(10), POLICY)
    assert status == FlapStatus(True, at(4), at(34))


def test_a_stricter_policy() -> None:
    policy = FlapPolicy(changes=3, within=timedelta(minutes=10))
    assert follow([0, 4, 8], 8, policy).flapping
    assert not follow([0, 6, 12], 12, policy).flapping


def test_status_round_trips_through_json() -> None:
    status = FlapStatus(True, at(20), at(50))
    assert FlapStatus.from_json(json.loads(json.dumps(status.to_json()))) == status
    assert FlapStatus.from_json(FlapStatus().to_json()) == FlapStatus()
    assert FlapPolicy.from_json(json.loads(json.dumps(POLICY.to_json()))) == POLICY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, FlapPolicy(), id="absent-default-5-in-30m"),
        pytest.param("off", None, id="off"),
        pytest.param(False, None, id="false-is-off"),
        pytest.param({"changes": 3}, FlapPolicy(3, timedelta(minutes=30)), id="changes-only"),
        pytest.param({"within": "1h"}, FlapPolicy(5, timedelta(hours=1)), id="within-only"),
    ],
)
def test_flap_policy(value: Any, expected: FlapPolicy | None) -> None:
    assert flap_policy(value) == expected


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        pytest.param("sometimes", {"flapping": "must be like"}, id="not-a-mapping"),
        pytest.param({"changes": 1}, {"flapping.changes": "from 2 to 100"}, id="one-change"),
        pytest.param({"changes": True}, {"flapping.changes": "whole number"}, id="bool-count"),
        pytest.param({"within": "2d"}, {"flapping.within": "at most 1d"}, id="window-too-long"),
        pytest.param(
            {"changes": 0, "within": "soon", "after": 1},
            {
                "flapping.changes": "from 2",
                "flapping.within": "not a duration",
                "flapping.after": "unknown field",
            },
            id="every-problem-listed",
        ),
    ],
)
def test_flap_policy_problems(value: Any, problems: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        flap_policy(value)
    assert set(caught.value.fields) == set(problems)
    for key, words in problems.items():
        assert words in caught.value.fields[key]
