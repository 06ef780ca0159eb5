"""Helpers for the server's long-running asyncio tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has finished."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``event``; return whether it was set.

    A cancellation is never lost, even one arriving as the event is set: Python 3.11's
    ``asyncio.wait_for`` then returned the result and dropped the cancellation, so a
    loop being stopped ran on and its stopper waited forever.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def run_due_loop(
    name: str,
    *,
    reload: Callable[[], Awaitable[object]],
    fire_due: Callable[[datetime], Awaitable[object]],
    first_due: Callable[[], datetime | None],
    wake: asyncio.Event,
    reload_seconds: float,
    reload_requested: Callable[[], bool] = lambda: False,
    logger: logging.Logger,
) -> None:
    """The loop of a watch over due times (deadlines, policy wake-ups): reload every
    ``reload_seconds`` (or when ``reload_requested()`` says so), fire what is due, then sleep
    until the first due time, the next reload or ``wake``. A failed pass is logged and
    retried a second later; the loop ends only when cancelled."""
    loop = asyncio.get_running_loop()
    next_reload = 0.0
    while True:
        try:
            if reload_requested() or loop.time() >= next_reload:
                await reload()
                next_reload = loop.time() + reload_seconds
            wake.clear()
            await fire_due(datetime.now(UTC))
            timeout = next_reload - loop.time()
            first = first_due()
            if first is not None:
                timeout = min(timeout, (first - datetime.now(UTC)).total_seconds())
            if timeout > 0:
                await wait_event(wake, timeout)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s pass failed; retrying in 1 s", name)
            await asyncio.sleep(1)
