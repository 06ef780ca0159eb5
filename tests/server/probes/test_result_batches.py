"""The outcome queue between the probes and their writer: batches, bounds, failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.server.domain.observations import Observation
from tocsin.server.probes import HttpTarget, ProbeJob, ProbeOutcome
from tocsin.server.probes.result_batches import ResultBatcher

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


def outcome(monitor_id: int) -> ProbeOutcome:
    job = ProbeJob(monitor_id, HttpTarget("http://127.0.0.1:1/"), timedelta(seconds=60))
    return ProbeOutcome(job, Observation("http://127.0.0.1:1/", NOW), NOW, NOW, timedelta(0))


def ids(batches: list[list[ProbeOutcome]]) -> list[list[int]]:
    return [[o.job.monitor_id for o in batch] for batch in batches]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_outcomes_queued_during_a_write_form_the_next_batch() -> None:
    received: list[list[ProbeOutcome]] = []
    release = asyncio.Event()

    async def write(batch: list[ProbeOutcome]) -> None:
        received.append(batch)
        await release.wait()

    batcher = ResultBatcher(write, batch_max=3, capacity=10, window=0)
    batcher.start()
    batcher.put(outcome(1))
    await settle()
    for i in range(2, 7):
        batcher.put(outcome(i))
    release.set()
    await batcher.close()
    assert ids(received) == [[1], [2, 3, 4], [5, 6]]


async def test_a_full_queue_drops_the_oldest_outcomes() -> None:
    received: list[list[ProbeOutcome]] = []
    release = asyncio.Event()

    async def write(batch: list[ProbeOutcome]) -> None:
        received.append(batch)
        await release.wait()

    batcher = ResultBatcher(write, batch_max=3, capacity=3, window=0)
    batcher.start()
    batcher.put(outcome(1))
    await settle()  # 1 is being written
    for i in range(2, 7):
        batcher.put(outcome(i))  # never waits
    assert (batcher.queued, batcher.dropped) == (3, 2)
    release.set()
    await batcher.close()
    assert ids(received) == [[1], [4, 5, 6]]


async def test_a_failing_write_is_counted_and_the_next_batch_still_goes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    received: list[list[ProbeOutcome]] = []

    def write(batch: list[ProbeOutcome]) -> None:
        if batch[0].job.monitor_id == 1:
            raise RuntimeError("database away")
        received.append(batch)

    batcher = ResultBatcher(write, batch_max=1, capacity=10, window=0)
    batcher.start()
    batcher.put(outcome(1))
    batcher.put(outcome(2))
    await batcher.close()
    assert ids(received) == [[2]]
    assert (batcher.batches, batcher.write_errors) == (2, 1)
    assert "probe results not written size=1" in caplog.text


def test_capacity_must_hold_a_batch() -> None:
    with pytest.raises(ValueError, match="capacity at least batch_max"):
        ResultBatcher(lambda batch: None, batch_max=10, capacity=5, window=0)
