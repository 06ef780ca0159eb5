"""Send slots: every channel has one of its own, and draws more from a shared pool.

The pool bounds how many alerts one server has in flight (sockets, memory). A receiver
that hangs holds its channel's sends until they time out; with only a shared pool, a few
hung channels would fill it and hold back every other channel's alerts. A channel's own
slot is never lent out, so each channel always has one send going, however many others
hang; its further sends take shared slots while there are any.

A send waiting for a slot takes whichever frees first: its channel's own, or a shared one.
"""

from __future__ import annotations

import asyncio
from collections import deque


class ChannelSlot:
    """One channel's own slot and the sends of that channel waiting for a slot."""

    def __init__(self) -> None:
        self.busy = False
        self.waiting: deque[asyncio.Future[bool]] = deque()


class SendSlots:
    """``shared`` slots any channel may take, on top of each channel's own."""

    def __init__(self, shared: int) -> None:
        if shared < 0:
            raise ValueError("shared slots must be 0 or more")
        self._free = shared
        self._waiting: deque[asyncio.Future[bool]] = deque()

    async def acquire(self, own: ChannelSlot) -> bool:
        """Take a slot for a send of the channel whose own slot is ``own``: that one if
        it is free, else a shared one, else the first of the two to free up. Returns
        whether the slot is shared (pass it to ``release``)."""
        if not own.busy:
            own.busy = True
            return False
        if self._free > 0:
            self._free -= 1
            return True
        granted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        # Queued on both lines; whichever releases first resolves it, and the other line
        # skips it later as done.
        own.waiting.append(granted)
        self._waiting.append(granted)
        try:
            return await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release(own, granted.result())  # granted as we were cancelled
            raise

    def release(self, own: ChannelSlot, shared: bool) -> None:
        """Give back a slot taken by ``acquire`` for the channel whose own slot is ``own``:
        to the next send waiting on its line, or free."""
        line = self._waiting if shared else own.waiting
        while line:
            granted = line.popleft()
            if not granted.done():
                granted.set_result(shared)
                return
        if shared:
            self._free += 1
        else:
            own.busy = False


__all__ = ["ChannelSlot", "SendSlots"]
