"""Durations as users write them, and how lengths of time are spelt for people in alert
summaries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tocsin.durations import describe_span, format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "spelt"),
    [
        pytest.param(timedelta(0), "0 s", id="nothing"),
        pytest.param(timedelta(seconds=12.4), "12 s", id="seconds-rounded"),
        pytest.param(timedelta(seconds=59.6), "1 min", id="just-under-a-minute-rounds-up"),
        pytest.param(timedelta(seconds=61), "1 min", id="a-minute"),
        pytest.param(timedelta(minutes=59, seconds=59), "59 min", id="minutes-truncated"),
        pytest.param(timedelta(hours=3), "3 h", id="whole-hours"),
        pytest.param(timedelta(hours=3, minutes=5), "3 h 5 min", id="hours-and-minutes"),
        pytest.param(timedelta(days=2), "2 d", id="whole-days"),
        pytest.param(timedelta(days=2, hours=4, minutes=30), "2 d 4 h", id="days-and-hours"),
        pytest.param(timedelta(seconds=-5), "0 s", id="never-negative"),
    ],
)
def test_describe_span(value: timedelta, spelt: str) -> None:
    assert describe_span(value) == spelt


@pytest.mark.parametrize(
    ("text", "length"),
    [
        pytest.param("500ms", timedelta(milliseconds=500), id="milliseconds"),
        pytest.param(" 9 ms ", timedelta(milliseconds=9), id="spaced-and-exact"),
        pytest.param("1500ms", timedelta(seconds=1.5), id="past-a-second"),
        pytest.param("5m", timedelta(minutes=5), id="minutes-are-not-milliseconds"),
        pytest.param("90", timedelta(seconds=90), id="plain-seconds"),
    ],
)
def test_parse_duration_reads_every_unit(text: str, length: timedelta) -> None:
    assert parse_duration(text) == length


@pytest.mark.parametrize("text", ["0ms", "5mss", "ms", "-5ms", "5 m s"])
def test_parse_duration_refuses_what_is_no_duration(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_milliseconds_are_spelt_as_seconds() -> None:
    assert format_duration(parse_duration("800ms")) == "0.8s"
