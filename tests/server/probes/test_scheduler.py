"""The probe scheduler against real local HTTP targets, on the real clock at 1 s intervals."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.server.probes.counting import CountingTarget, serve_counting
from tocsin.server.domain.observations import Observation
from tocsin.server.probes import (
    HttpTarget,
    ProbeClient,
    ProbeJob,
    ProbeOutcome,
    ProbeScheduler,
    TcpTarget,
    probe_executor,
)
from tocsin.server.probes.slots import next_slot, phase

SECOND = timedelta(seconds=1)


class ShiftedClock:
    """The real clocks, with the wall clock moved by ``shift`` seconds."""

    def __init__(self, shift: float) -> None:
        self.shift = shift

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.shift)

    def monotonic(self) -> float:
        return time.monotonic()


def clock_with_slot_in(monitor_id: int, interval: float, seconds: float) -> ShiftedClock:
    """A clock on which ``monitor_id``'s next slot comes ``seconds`` from now, so a test
    does not wait out a random part of the interval for its first run."""
    now = time.time()
    return ShiftedClock(next_slot(monitor_id, interval, now) - seconds - now)


class Collected:
    """What ``on_results`` received."""

    def __init__(self) -> None:
        self.batches: list[list[ProbeOutcome]] = []

    def __call__(self, batch: list[ProbeOutcome]) -> None:
        self.batches.append(batch)

    @property
    def outcomes(self) -> list[ProbeOutcome]:
        return [outcome for batch in self.batches for outcome in batch]

    def of(self, monitor_id: int) -> list[ProbeOutcome]:
        return [o for o in self.outcomes if o.job.monitor_id == monitor_id]


async def until(condition: Callable[[], bool], timeout: float = 8.0) -> None:
    """Wait until ``condition()`` holds; fail the test after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
async def counting() -> AsyncIterator[CountingTarget]:
    async with serve_counting() as target:
        yield target


@pytest.fixture
async def probe_client() -> AsyncIterator[ProbeClient]:
    async with ProbeClient() as client:
        yield client


@pytest.fixture
async def started(
    probe_client: ProbeClient, counting: CountingTarget
) -> AsyncIterator[Callable[..., tuple[ProbeScheduler, Collected]]]:
    """Makes schedulers running real probes on one client; stops them after the test
    (before the counting target stops, which would wait for the requests in flight)."""
    made: list[ProbeScheduler] = []

    def make(*jobs: ProbeJob, **options: object) -> tuple[ProbeScheduler, Collected]:
        collected = Collected()
        on_results = options.pop("on_results", collected)
        scheduler = ProbeScheduler(
            probe_executor(probe_client),
            on_results,  # type: ignore[arg-type]
            **options,  # type: ignore[arg-type]
        )
        for job in jobs:
            scheduler.upsert(job)
        scheduler.start()
        made.append(scheduler)
        return scheduler, collected

    yield make
    for scheduler in made:
        await scheduler.stop()


def http_job(monitor_id: int, url: str, interval: timedelta = SECOND, **fields: object) -> ProbeJob:
    return ProbeJob(monitor_id, HttpTarget(url), interval, **fields)  # type: ignore[arg-type]


async def test_jobs_run_at_their_interval_spread_across_the_second(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    jobs = [http_job(i, counting.url("herd", 0.05)) for i in range(1, 101)]
    scheduler, collected = started(*jobs, per_host=None)
    await until(lambda: all(len(collected.of(i)) >= 2 for i in range(1, 101)))
    await scheduler.stop()

    for i in range(1, 101):
        first, second = collected.of(i)[:2]
        assert first.observation.status == 200
        assert (second.scheduled_at - first.scheduled_at).total_seconds() == pytest.approx(
            1.0, abs=0.002
        )
        assert first.scheduled_at.timestamp() % 1 == pytest.approx(phase(i), abs=0.002)
        assert first.started_at >= first.scheduled_at
        assert first.started_at - first.scheduled_at == first.lateness
    # No herd: the target saw the first round arrive over the whole second, never all
    # at once.
    first_round = sorted(at for _, at in counting.arrivals[:100])
    assert first_round[-1] - first_round[0] > 0.7
    assert max(sum(1 for t in first_round if s <= t < s + 0.1) for s in first_round) <= 25
    assert counting.peak_total < 30


async def test_global_concurrency_is_capped(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    jobs = [http_job(i, counting.url("busy", 0.5), host=f"host-{i}") for i in range(20)]
    scheduler, collected = started(*jobs, concurrency=4, per_host=None)
    await until(lambda: len(collected.outcomes) >= 12)
    assert counting.peak_total == 4
    assert scheduler.stats().waiting > 0  # the rest waited for a slot


async def test_per_host_cap_and_a_slow_host_does_not_delay_other_hosts(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    slow = [http_job(i, counting.url("slow", 3.0), host="slow") for i in range(4)]
    fast = [http_job(i, counting.url("fast"), host=f"fast-{i}") for i in range(10, 14)]
    # Three global slots and one per host: slow runs waiting for their host must not sit
    # on the global slots the fast hosts need.
    _, collected = started(*slow, *fast, concurrency=3, per_host=1)
    await until(lambda: all(len(collected.of(job.monitor_id)) >= 2 for job in fast))
    assert counting.peak["slow"] == 1
    assert counting.current["slow"] == 1
    fast_outcomes = [o for job in fast for o in collected.of(job.monitor_id)]
    assert max(o.lateness for o in fast_outcomes) < timedelta(seconds=1)


async def test_a_slot_is_skipped_while_the_previous_run_is_still_going(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    job = http_job(1, counting.url("long", 1.2))
    scheduler, collected = started(job, clock=clock_with_slot_in(1, 1, 0.1))
    await until(lambda: len(collected.of(1)) >= 1)
    (first,) = collected.of(1)
    # The run took 1.2 s: the slot 1 s later was skipped, not queued behind it.
    assert scheduler.stats().skips == 1
    assert scheduler.next_run(1) == pytest.approx(
        first.scheduled_at + 2 * SECOND, abs=timedelta(milliseconds=2)
    )
    await until(lambda: counting.count("long") == 2)
    assert counting.peak["long"] == 1


async def test_a_run_that_waited_longer_than_its_interval_for_a_place_is_skipped(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    clock = clock_with_slot_in(1, 1, 0.2)
    shifted_now = clock.now().timestamp()
    # A monitor whose own slot on this clock is far away: it runs only when asked.
    blocker = next(i for i in range(100, 200) if next_slot(i, 3600, shifted_now) > shifted_now + 60)
    scheduler, collected = started(
        http_job(1, counting.url("waiting")),
        http_job(blocker, counting.url("blocker", 1.6), timedelta(seconds=3600)),
        concurrency=1,
        clock=clock,
    )
    scheduler.run_now(blocker)  # holds the only place for 1.6 s
    await until(lambda: len(collected.of(1)) >= 1)
    (first,) = collected.of(1)
    (blocked,) = collected.of(blocker)
    # The run for the slot 0.2 s in waited 1.4 s: skipped, not run late; the monitor
    # ran at its next slot after the place came free.
    assert first.lateness < SECOND
    assert first.started_at > blocked.started_at + timedelta(seconds=1.5)
    assert scheduler.stats().skips >= 2
    assert counting.count("waiting") == 1


async def test_a_scheduler_that_fell_behind_runs_the_latest_slot_only(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    scheduler, collected = started(
        http_job(1, counting.url("behind")), clock=clock_with_slot_in(1, 1, 0.1)
    )
    await until(lambda: len(collected.of(1)) >= 1)
    time.sleep(2.2)  # blocks the event loop: the dispatcher misses slots
    await until(lambda: len(collected.of(1)) >= 2)
    first, second = collected.of(1)[:2]
    missed = (second.scheduled_at - first.scheduled_at).total_seconds()
    assert missed == pytest.approx(round(missed), abs=0.002)
    assert round(missed) >= 2  # ran once for the missed slots, at the latest of them
    assert second.lateness < SECOND
    assert counting.count("behind") == 2
    assert scheduler.stats().skips == round(missed) - 1


async def test_upsert_replaces_the_target_and_keeps_the_phase(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    scheduler, collected = started(
        http_job(1, counting.url("before")), clock=clock_with_slot_in(1, 1, 0.1)
    )
    await until(lambda: len(collected.of(1)) >= 1)
    scheduler.upsert(http_job(1, counting.url("after")))
    await until(lambda: counting.count("after") >= 1 and len(collected.of(1)) >= 2)
    first, second = collected.of(1)[:2]
    assert second.job.target.url == counting.url("after")  # type: ignore[union-attr]
    assert (second.scheduled_at - first.scheduled_at).total_seconds() == pytest.approx(
        1.0, abs=0.002
    )
    assert counting.count("before") == 1


class WobblyClock(ShiftedClock):
    """A shifted clock whose wall reading is 5 ms behind on every other read, as when the
    thread is preempted between reading the monotonic and the wall clock."""

    def __init__(self, shift: float) -> None:
        super().__init__(shift)
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return super().now() - timedelta(seconds=0.005 * (self.reads % 2))


async def test_slots_one_interval_apart_are_reported_one_interval_apart(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    clock = WobblyClock(clock_with_slot_in(1, 1, 0.1).shift)
    _, collected = started(http_job(1, counting.url("steady")), clock=clock)
    await until(lambda: len(collected.of(1)) >= 3)
    runs = collected.of(1)[:3]
    for earlier, later in itertools.pairwise(runs):
        spacing = (later.scheduled_at - earlier.scheduled_at).total_seconds()
        assert spacing == pytest.approx(1.0, abs=1e-5)


async def test_remove_stops_the_runs_and_cancels_the_one_in_flight(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    scheduler, collected = started(
        http_job(1, counting.url("gone", 10.0)), clock=clock_with_slot_in(1, 1, 0.1)
    )
    await until(lambda: counting.current["gone"] == 1)
    scheduler.remove(1)
    await until(lambda: counting.current["gone"] == 0)  # the request was dropped
    await asyncio.sleep(1.1)
    assert counting.count("gone") == 1
    await scheduler.stop()
    assert collected.outcomes == []
    assert scheduler.stats().jobs == 0


async def test_retrying_uses_the_retry_interval(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    job = http_job(1, counting.url("retry"), timedelta(seconds=30), retry_interval=SECOND)
    scheduler, collected = started(job, clock=clock_with_slot_in(1, 30, 0.1))
    await until(lambda: len(collected.of(1)) >= 1)
    scheduler.set_retrying(1, True)
    await until(lambda: len(collected.of(1)) >= 3)
    retries = [o.scheduled_at for o in collected.of(1)[1:3]]
    assert (retries[1] - retries[0]).total_seconds() == pytest.approx(1.0, abs=0.002)
    scheduler.set_retrying(1, False)
    back = scheduler.next_run(1)
    assert back is not None
    assert back - collected.of(1)[-1].scheduled_at >= timedelta(seconds=29)


async def test_run_now_runs_at_once_outside_the_schedule(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    job = http_job(1, counting.url("now", 0.3), timedelta(seconds=60))
    scheduler, collected = started(job, clock=clock_with_slot_in(1, 60, 30))
    planned = scheduler.next_run(1)
    assert scheduler.run_now(1) is True
    assert scheduler.run_now(1) is False  # one run in flight per monitor
    await until(lambda: len(collected.of(1)) >= 1)
    (outcome,) = collected.of(1)
    assert outcome.on_demand
    assert outcome.observation.status == 200
    assert scheduler.next_run(1) == pytest.approx(planned, abs=timedelta(milliseconds=5))
    with pytest.raises(KeyError):
        scheduler.run_now(2)


async def test_tcp_jobs_connect(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    job = ProbeJob(1, TcpTarget("127.0.0.1", counting.port), timedelta(seconds=60))
    scheduler, collected = started(job, clock=clock_with_slot_in(1, 60, 30))
    scheduler.run_now(1)
    await until(lambda: len(collected.of(1)) >= 1)
    observation = collected.of(1)[0].observation
    assert observation.url == f"tcp://127.0.0.1:{counting.port}"
    assert observation.failure is None


async def test_a_slow_consumer_gets_batches_and_does_not_stall_probing(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    collected = Collected()

    async def slow_writer(batch: list[ProbeOutcome]) -> None:
        await asyncio.sleep(1.0)
        collected(batch)

    jobs = [http_job(i, counting.url("many")) for i in range(1, 61)]
    scheduler, _ = started(*jobs, on_results=slow_writer, per_host=None)
    await until(lambda: scheduler.stats().runs >= 60)
    stats = scheduler.stats()
    assert stats.batches <= 2  # 60 runs in a second went to a writer busy 1 s per batch
    assert stats.skips == 0
    await scheduler.stop()
    assert len(collected.outcomes) == scheduler.stats().runs >= 60
    assert max(len(batch) for batch in collected.batches) > 1


async def test_a_raising_execute_is_counted_and_the_others_go_on(
    counting: CountingTarget,
    probe_client: ProbeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = probe_executor(probe_client)

    async def execute(job: ProbeJob, now: datetime) -> Observation:
        if job.monitor_id == 1:
            raise RuntimeError("executor bug")
        return await real(job, now)

    collected = Collected()
    scheduler = ProbeScheduler(execute, collected, clock=clock_with_slot_in(1, 1, 0.1))
    scheduler.upsert(http_job(1, counting.url("bug")))
    scheduler.upsert(http_job(2, counting.url("fine")))
    scheduler.start()
    try:
        await until(lambda: len(collected.of(2)) >= 2 and scheduler.stats().errors >= 2)
        assert scheduler.running
    finally:
        await scheduler.stop()
    assert collected.of(1) == []
    assert "probe raised monitor_id=1" in caplog.text


async def test_stop_is_clean(
    started: Callable[..., tuple[ProbeScheduler, Collected]], counting: CountingTarget
) -> None:
    quick = [http_job(i, counting.url("quick")) for i in range(1, 6)]
    slow = [http_job(i, counting.url("stuck", 10.0)) for i in range(6, 9)]
    scheduler, collected = started(*quick, *slow, per_host=None)
    # A run counts once its answer was read, a little after the target saw the request.
    await until(lambda: counting.current["stuck"] == 3 and scheduler.stats().runs >= 5)
    await scheduler.stop()
    assert not scheduler.running
    stats = scheduler.stats()
    assert (stats.probing, stats.waiting, stats.queued_results) == (0, 0, 0)
    assert len(collected.outcomes) == stats.runs >= 5  # every finished run was handed over
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("tocsin-probe")]
    await until(lambda: counting.current_total == 0)  # the stuck requests were dropped
    arrived = len(counting.arrivals)
    await asyncio.sleep(1.1)
    assert len(counting.arrivals) == arrived
    await scheduler.stop()  # a second stop is harmless
