"""Result batches spaced apart (the probe engine's fewer, bigger transactions): outcomes
arriving soon after a batch wait to join the next one, unless a full batch waits."""

from __future__ import annotations

from tests.server.probes.test_result_batches import ids, outcome, settle
from tocsin.server.probes import ProbeOutcome
from tocsin.server.probes.result_batches import ResultBatcher


async def test_outcomes_soon_after_a_batch_wait_and_go_together() -> None:
    received: list[list[ProbeOutcome]] = []
    batcher = ResultBatcher(received.append, batch_max=10, capacity=100, window=0, spacing=3600)
    batcher.start()
    batcher.put(outcome(1))
    await settle()
    assert ids(received) == [[1]], "after a quiet time the first outcome goes at once"
    for i in range(2, 5):
        batcher.put(outcome(i))
        await settle()
    assert ids(received) == [[1]], "the next batch waits for its turn"
    await batcher.close()
    assert ids(received) == [[1], [2, 3, 4]], "closing delivers what waits, in one batch"


async def test_a_full_batch_does_not_wait() -> None:
    received: list[list[ProbeOutcome]] = []
    batcher = ResultBatcher(received.append, batch_max=2, capacity=100, window=0, spacing=3600)
    batcher.start()
    batcher.put(outcome(1))
    await settle()
    batcher.put(outcome(2))
    batcher.put(outcome(3))
    await settle()
    assert ids(received) == [[1], [2, 3]]
    await batcher.close()
