"""What the public sees of a monitor, computed without a server: heartbeat uptime from
flips, the percentages and the combined state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tocsin.server.dashboard.public_state import (
    DayBar,
    PublicState,
    combined_state,
    format_percent,
    heartbeat_uptime,
    overall_summary,
    window_days,
)
from tocsin.server.domain.states import MonitorState

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DAYS = window_days(NOW)
YESTERDAY = datetime(2026, 12, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    """``hours`` after yesterday's midnight."""
    return YESTERDAY + timedelta(hours=hours)


def test_the_window_is_90_days_ending_today() -> None:
    assert len(DAYS) == 90
    assert DAYS[-1] == date(2026, 12, 2) and DAYS[0] == date(2026, 9, 4)


def test_heartbeat_days_count_time_down_over_time_watched() -> None:
    flips = [
        (at(6), "up", "down"),
        (at(12), "down", "up"),
        (at(20), "up", "paused"),  # paused time counts neither way
        (at(26), "paused", "up"),
    ]
    bars, total = heartbeat_uptime(at(-48), MonitorState.UP, flips, DAYS, NOW)
    by_day = {bar.day: bar for bar in bars}
    assert by_day[date(2026, 11, 30)].uptime == 1.0
    assert by_day[date(2026, 12, 1)].uptime == 1.0 - 6 / 20
    assert by_day[date(2026, 12, 2)].uptime == 1.0  # 2 h paused, then 10 h up
    assert by_day[date(2026, 11, 28)].uptime is None  # before the monitor existed
    assert total is not None and abs(total - (1.0 - 6 / (48 + 20 + 10))) < 1e-9


def test_a_monitor_down_all_window_without_flips_has_zero_uptime() -> None:
    bars, total = heartbeat_uptime(at(0), MonitorState.DOWN, [], DAYS, NOW)
    assert [bar.level for bar in bars[-3:]] == ["none", "major", "major"]
    assert total == 0.0


def test_a_new_monitor_has_no_data() -> None:
    bars, total = heartbeat_uptime(at(-24), MonitorState.NEW, [], DAYS, NOW)
    assert {bar.level for bar in bars} == {"none"}
    assert total is None


def test_percentages_never_round_a_bad_day_up_to_100() -> None:
    assert format_percent(1.0) == "100%"
    assert format_percent(0.99999) == "99.99%"
    assert format_percent(0.9375) == "93.75%"
    assert DayBar(date(2026, 12, 1), 0.995).level == "minor"
    assert DayBar(date(2026, 12, 1), 0.98).level == "major"


def test_states_combine_as_the_page_summary_says() -> None:
    up, down, degraded = PublicState.UP, PublicState.DOWN, PublicState.DEGRADED
    paused = PublicState.PAUSED
    assert combined_state([up, up, paused]) is up
    assert combined_state([down, paused]) is down
    assert combined_state([up, down]) is degraded
    assert combined_state([paused]) is PublicState.UNKNOWN
    assert overall_summary([up, up]) == "All systems operational"
    assert overall_summary([up, degraded]) == "Degraded performance"
    assert overall_summary([up, down]) == "Partial outage"
    assert overall_summary([down, down]) == "Major outage"
    assert overall_summary([]) == "Status unknown"


def test_time_after_now_is_not_counted() -> None:
    # The page is computed as of the current minute, so a flip may come seconds later.
    flips = [(at(30), "up", "down"), (NOW + timedelta(hours=1), "down", "up")]
    bars, _ = heartbeat_uptime(at(0), MonitorState.UP, flips, DAYS, NOW)
    assert bars[-1].uptime == 0.5  # today: up 00:00-06:00, down 06:00-12:00 (now)
