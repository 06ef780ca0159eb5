"""The background loops' waits: a stop (a cancellation) is never lost."""

from __future__ import annotations

import asyncio

from tocsin.server.background import cancel_and_wait, wait_event


async def test_a_cancel_arriving_as_the_event_is_set_still_stops_the_loop() -> None:
    # The delivery worker, the probe engine and the result batches idle like this. With
    # Python 3.11's wait_for, this cancel was dropped and stopping the loop hung.
    wake = asyncio.Event()
    rounds = 0

    async def idle_loop() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            await wait_event(wake, 5)
            wake.clear()

    loop_task = asyncio.create_task(idle_loop())
    await asyncio.sleep(0.01)  # idling in its wait
    wake.set()
    loop_task.cancel()
    async with asyncio.timeout(2):
        await cancel_and_wait(loop_task)
    assert loop_task.cancelled()
    assert rounds == 1


async def test_wait_event_says_whether_the_event_came_in_time() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 2) is True
