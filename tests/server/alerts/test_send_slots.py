"""Send slots: each channel's own one, a shared pool, and waiting for either."""

from __future__ import annotations

import asyncio

import pytest

from tocsin.server.alerts.send_slots import ChannelSlot, SendSlots


async def _waiting(slots: SendSlots, own: ChannelSlot) -> asyncio.Task[bool]:
    """A task acquiring a slot, left waiting for one."""
    task = asyncio.create_task(slots.acquire(own))
    await asyncio.sleep(0)
    assert not task.done()
    return task


async def test_every_channel_sends_with_its_own_slot_when_the_pool_is_empty() -> None:
    slots = SendSlots(0)
    hung, healthy = ChannelSlot(), ChannelSlot()
    assert await slots.acquire(hung) is False
    second = await _waiting(slots, hung)  # its own slot is taken, and there is no pool

    assert await asyncio.wait_for(slots.acquire(healthy), 1) is False

    slots.release(hung, shared=False)
    assert await asyncio.wait_for(second, 1) is False  # handed on to the channel's next send


async def test_a_channel_takes_shared_slots_beyond_its_own_until_the_pool_is_empty() -> None:
    slots = SendSlots(2)
    own = ChannelSlot()
    taken = [await slots.acquire(own) for _ in range(3)]
    assert taken == [False, True, True]
    waiting = await _waiting(slots, own)
    slots.release(own, shared=True)
    assert await asyncio.wait_for(waiting, 1) is True


async def test_a_waiting_send_takes_whichever_slot_frees_first() -> None:
    slots = SendSlots(1)
    own, other = ChannelSlot(), ChannelSlot()
    await slots.acquire(own)
    await slots.acquire(own)  # the pool's only slot
    first, second = await _waiting(slots, own), await _waiting(slots, own)

    slots.release(own, shared=False)
    assert await asyncio.wait_for(first, 1) is False
    assert not second.done()
    slots.release(own, shared=True)
    assert await asyncio.wait_for(second, 1) is True

    # Granted on one line, it was passed over on the other: the next release there
    # frees the slot instead of handing it to a send no longer waiting.
    slots.release(own, shared=False)
    slots.release(own, shared=True)
    assert await slots.acquire(other) is False
    assert await slots.acquire(other) is True
    assert await slots.acquire(own) is False


async def test_a_cancelled_wait_keeps_no_slot() -> None:
    slots = SendSlots(0)
    own = ChannelSlot()
    await slots.acquire(own)
    waiting = await _waiting(slots, own)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    slots.release(own, shared=False)
    assert await slots.acquire(own) is False  # freed, not handed to the cancelled send


async def test_a_slot_granted_as_its_send_is_cancelled_goes_to_the_next() -> None:
    slots = SendSlots(0)
    own = ChannelSlot()
    await slots.acquire(own)
    first, second = await _waiting(slots, own), await _waiting(slots, own)
    slots.release(own, shared=False)  # granted to the first ...
    first.cancel()  # ... which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) is False


def test_a_negative_pool_is_refused() -> None:
    with pytest.raises(ValueError, match="shared slots must be 0 or more"):
        SendSlots(-1)
