"""Many small writes of the same kind, committed together: one transaction for all the
calls that queued while the previous one ran.

The delivery worker records each channel batch's attempts as the batch ends; when
10,000 alerts leave at once that is a thousand small batches, and a transaction each
kept SQLite's single writer (and a PostgreSQL connection per write) busy with begin
and commit more than with rows. ``CoalescedWrites.write`` returns once the caller's
own call is committed, as a ``run_write`` of its own would; a caller that finds no
write running is written at once, alone, so nothing waits when writes are rare.

If a combined transaction fails, each call in it is tried again alone, so one call's
bad row fails that call only, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection

from tocsin.server.storage.database import Database

logger = logging.getLogger(__name__)

_Call = tuple[tuple[Any, ...], "asyncio.Future[None]"]


class CoalescedWrites:
    """Runs ``work(conn, *args)`` for each ``write(*args)``; calls queued while a write
    is running share the next transaction."""

    def __init__(self, database: Database, work: Callable[..., object]) -> None:
        self.database = database
        self.work = work
        self._queued: list[_Call] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, *args: Any) -> None:
        """Run ``work(conn, *args)`` in a write transaction (shared with other calls);
        raise what it raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((args, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="tocsin-coalesced-writes")
        await future

    async def _drain(self) -> None:
        calls: list[_Call] = []
        try:
            while self._queued:
                calls, self._queued = self._queued, []
                await self._write(calls)
        except BaseException:  # cancelled (shutdown): nobody may wait forever
            for _, future in calls + self._queued:
                future.cancel()
            self._queued = []
            raise

    async def _write(self, calls: list[_Call]) -> None:
        try:
            await self.database.run_write(self._run, [args for args, _ in calls])
        except Exception as exc:
            if len(calls) == 1:
                _settle(calls[0][1], exc)
                return
            for args, future in calls:  # alone, so only the failing call fails
                try:
                    await self.database.run_write(self._run, [args])
                except Exception as alone:
                    _settle(future, alone)
                else:
                    _settle(future, None)
        else:
            for _, future in calls:
                _settle(future, None)

    def _run(self, conn: Connection, calls: list[tuple[Any, ...]]) -> None:
        for args in calls:
            self.work(conn, *args)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # its caller was cancelled; the write went ahead anyway
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
