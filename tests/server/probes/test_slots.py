"""The pure side of scheduling: phases, slots, catching up, job validation, planning."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.server.domain.observations import Observation
from tocsin.server.probes import HttpTarget, ProbeJob, ProbeScheduler, TcpTarget
from tocsin.server.probes.clock import WallMapping
from tocsin.server.probes.slots import catch_up, next_slot, phase

NOW = datetime(2025, 3, 4, 12, 0, 0, 250000, tzinfo=UTC)
TARGET = HttpTarget("http://127.0.0.1:1/")


class FixedClock:
    """A clock standing still at ``wall``, monotonic ``mono``."""

    def __init__(self, wall: datetime, mono: float = 1000.0) -> None:
        self.wall = wall
        self.mono = mono

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


async def never_run(job: ProbeJob, now: datetime) -> Observation:
    raise AssertionError("planning tests never run a probe")


def job(monitor_id: int = 1, interval: float = 60, **fields: object) -> ProbeJob:
    return ProbeJob(
        monitor_id=monitor_id,
        target=TARGET,
        interval=timedelta(seconds=interval),
        **fields,  # type: ignore[arg-type]
    )


def test_phase_is_stable_and_in_range() -> None:
    assert phase(42) == phase(42)
    assert all(0 <= phase(i) < 1 for i in range(1000))


def test_phases_of_consecutive_ids_fill_the_interval() -> None:
    buckets = Counter(int(phase(i) * 10) for i in range(1, 101))
    assert set(buckets) == set(range(10))
    assert max(buckets.values()) <= 20


@pytest.mark.parametrize(
    ("not_before", "interval"),
    [(1_741_089_600.0, 60.0), (1_741_089_600.5, 1.0), (0.0, 3600.0), (1_741_089_659.9, 60.0)],
    ids=["on-minute", "half-second", "epoch", "end-of-minute"],
)
def test_next_slot_is_the_first_grid_point_not_before(not_before: float, interval: float) -> None:
    slot = next_slot(7, interval, not_before)
    assert not_before <= slot < not_before + interval
    steps = (slot - phase(7) * interval) / interval
    assert steps == pytest.approx(round(steps), abs=1e-6)


def test_next_slot_on_the_slot_is_that_slot() -> None:
    slot = next_slot(7, 60, 1_741_089_600.0)
    assert next_slot(7, 60, slot) == slot


@pytest.mark.parametrize(
    ("now", "expected"),
    [(99.0, (100.0, 0)), (100.0, (100.0, 0)), (100.5, (100.0, 0)), (102.2, (102.0, 2))],
    ids=["before", "on-slot", "within-interval", "two-intervals-behind"],
)
def test_catch_up_runs_only_the_latest_passed_slot(now: float, expected: tuple[float, int]) -> None:
    assert catch_up(100.0, now, 1.0) == expected


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"interval": 0.5}, "interval must be at least 1 s"),
        ({"retry_interval": timedelta(milliseconds=500)}, "retry_interval must be at least"),
        ({"jitter": timedelta(seconds=-1)}, "jitter must not be negative"),
        ({"jitter": timedelta(seconds=60)}, "jitter must be shorter"),
        (
            {"retry_interval": timedelta(seconds=5), "jitter": timedelta(seconds=5)},
            "jitter must be shorter",
        ),
    ],
    ids=[
        "interval-below-1s",
        "retry-below-1s",
        "negative-jitter",
        "jitter-of-interval",
        "jitter-of-retry",
    ],
)
def test_bad_jobs_are_refused(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        job(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "host", "expected"),
    [
        (HttpTarget("https://API.Example.com:8443/v1/ping"), "", "api.example.com"),
        (TcpTarget("Redis.Internal", 6379), "", "redis.internal"),
        (HttpTarget("http://[::1]:8080/"), "", "::1"),
        (HttpTarget("http://a.example/"), "shared-lb", "shared-lb"),
    ],
    ids=["url-host-without-port", "tcp-host", "ipv6", "explicit-key"],
)
def test_host_key(target: HttpTarget | TcpTarget, host: str, expected: str) -> None:
    made = ProbeJob(1, target, timedelta(seconds=60), host=host)
    assert made.host == expected


def scheduler(clock: FixedClock, rng: float = 0.0) -> ProbeScheduler:
    return ProbeScheduler(never_run, lambda batch: None, clock=clock, rng=lambda: rng)


def slot_at(monitor_id: int, interval: float, not_before: datetime) -> datetime:
    return datetime.fromtimestamp(next_slot(monitor_id, interval, not_before.timestamp()), tz=UTC)


def test_a_new_job_is_planned_at_its_first_slot() -> None:
    planner = scheduler(FixedClock(NOW))
    planner.upsert(job(5, 60))
    assert planner.next_run(5) == slot_at(5, 60, NOW)
    assert planner.next_run(6) is None


def test_a_restart_keeps_the_phase() -> None:
    first, later = scheduler(FixedClock(NOW)), scheduler(FixedClock(NOW + timedelta(hours=5)))
    first.upsert(job(5, 60))
    later.upsert(job(5, 60))
    gap = later.next_run(5) - first.next_run(5)  # type: ignore[operator]
    assert gap.total_seconds() % 60 == pytest.approx(0, abs=1e-6)


def test_retrying_moves_to_the_retry_grid_and_back() -> None:
    planner = scheduler(FixedClock(NOW))
    planner.upsert(job(5, 60, retry_interval=timedelta(seconds=10)))
    planner.set_retrying(5, True)
    assert planner.next_run(5) == slot_at(5, 10, NOW)
    planner.set_retrying(5, False)
    assert planner.next_run(5) == slot_at(5, 60, NOW)
    planner.set_retrying(99, True)  # unknown monitors are ignored


def test_upsert_keeps_the_plan_unless_the_timing_changes() -> None:
    planner = scheduler(FixedClock(NOW))
    planner.upsert(job(5, 60))
    planned = planner.next_run(5)
    planner.upsert(ProbeJob(5, HttpTarget("http://127.0.0.1:2/"), timedelta(seconds=60)))
    assert planner.next_run(5) == planned
    planner.upsert(job(5, 300))
    assert planner.next_run(5) == slot_at(5, 300, NOW)


def test_jitter_delays_the_planned_start_within_the_jitter() -> None:
    planner = scheduler(FixedClock(NOW), rng=0.5)
    planner.upsert(job(5, 60, jitter=timedelta(seconds=4)))
    assert planner.next_run(5) == slot_at(5, 60, NOW) + timedelta(seconds=2)


def test_removed_jobs_are_forgotten() -> None:
    planner = scheduler(FixedClock(NOW))
    planner.upsert(job(5, 60))
    planner.remove(5)
    planner.remove(5)
    assert planner.next_run(5) is None
    assert planner.stats().jobs == 0


def test_the_wall_mapping_keeps_its_offset_until_the_wall_clock_steps() -> None:
    clock = FixedClock(NOW, mono=1000.0)
    wall = WallMapping(clock)
    assert wall.at(1001.0) == NOW + timedelta(seconds=1)
    clock.wall = NOW + timedelta(milliseconds=50)  # read late, not stepped: kept
    assert wall.at(1001.0) == NOW + timedelta(seconds=1)
    clock.wall = NOW + timedelta(hours=1)  # stepped: followed
    assert wall.at(1001.0) == NOW + timedelta(hours=1, seconds=1)
