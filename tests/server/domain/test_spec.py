"""Validation of monitor and channel descriptions, and durations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.durations import format_duration, parse_duration
from tocsin.errors import ValidationError
from tocsin.server.domain.spec import channel_spec, monitor_spec


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("90", 90),
        (1, 1),
        ("1.5s", 1.5),
        (" 10 m ", 600),
    ],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0", "-5m", "5 minutes", "1y", "abc", "400d", True])
def test_bad_durations_are_refused(text: str | bool) -> None:
    with pytest.raises(ValueError, match=r"duration|seconds|days"):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=366 * 86400))
def test_format_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_monitor_defaults() -> None:
    spec = monitor_spec({"name": "Nightly Backup"})
    assert spec.slug == "nightly-backup"
    assert spec.schedule.period == timedelta(days=1)
    assert spec.schedule.grace == timedelta(hours=1)


def test_every_problem_is_reported_per_field() -> None:
    with pytest.raises(ValidationError) as info:
        monitor_spec(
            {
                "name": "",
                "period": "soon",
                "grace": 0,
                "timezone": "Mars/Olympus",
                "color": "red",
                "channels": "ops",
                "slug": "Not A Slug",
            }
        )
    fields = info.value.fields
    assert set(fields) == {"name", "period", "grace", "timezone", "color", "channels", "slug"}
    assert "not a duration" in fields["period"]


def test_cron_rules() -> None:
    assert monitor_spec({"name": "a", "cron": "@daily"}).schedule.cron == "0 0 * * *"
    with pytest.raises(ValidationError) as info:
        monitor_spec({"name": "a", "cron": "0 0 30 2 *", "period": "1h"})
    assert set(info.value.fields) == {"cron", "period"}
    with pytest.raises(ValidationError) as tz_info:
        monitor_spec({"name": "a", "period": "1h", "timezone": "Europe/Berlin"})
    assert "only applies to cron" in tz_info.value.fields["timezone"]


def test_channel_spec() -> None:
    spec = channel_spec(
        {"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/h", "timeout": "5s"}
    )
    assert spec.settings == {"url": "http://127.0.0.1:9/h", "timeout": 5.0}
    with pytest.raises(ValidationError) as info:
        channel_spec({"name": "ops", "kind": "pager", "url": "ftp://x"})
    assert set(info.value.fields) == {"kind"}
    with pytest.raises(ValidationError) as url_info:
        channel_spec({"name": "ops", "kind": "webhook", "url": "ftp://x"})
    assert set(url_info.value.fields) == {"url"}


@pytest.mark.parametrize("text", ["a\x00b", "a\ud800b"])
def test_text_every_database_can_store(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        monitor_spec({"name": text, "tags": [text], "desc": text})
    assert set(info.value.fields) == {"name", "tags", "desc"}


@pytest.mark.parametrize(
    "slug",
    ["ab\n", "ab ", " ab", "Ab", "a/b", "a.b", "ü", "", "a" * 101, "ab\r\n", "a\tb"],
    ids=repr,
)
def test_a_slug_breaking_the_rule_is_refused_as_given_not_trimmed(slug: str) -> None:
    with pytest.raises(ValidationError) as info:
        monitor_spec({"name": "job", "slug": slug})
    assert info.value.fields == {
        "slug": "may contain only a-z, 0-9, hyphens and underscores (1 to 100 characters)"
    }


@pytest.mark.parametrize("slug", ["ab", "a-b_c", "0", "a" * 100])
def test_slugs_that_follow_the_rule(slug: str) -> None:
    assert monitor_spec({"name": "job", "slug": slug}).slug == slug


@pytest.mark.parametrize("field", ["tags", "channels", "depends_on"])
def test_a_white_space_name_is_refused_not_stored_empty(field: str) -> None:
    # Names are trimmed; a blank one used to be stored as "" and then refused on every
    # later PATCH of the monitor (found by schemathesis).
    with pytest.raises(ValidationError) as caught:
        monitor_spec({"name": "x", "period": 60, field: [" \t"]})
    assert caught.value.fields == {field: "must be a list of non-empty strings"}
