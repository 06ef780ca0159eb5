"""Disposing a ``Database`` closes every connection it opened, including one a task
still holds (as a task cancelled at shutdown can leave it).

Before, such a connection stayed open until the garbage collector found it, in whatever
test ran next: on PostgreSQL as an "unclosed connection" ResourceWarning, on SQLite as
aiosqlite's worker thread failing on an event loop that had closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tocsin.server.storage.database import Database


@contextlib.asynccontextmanager
async def held_connection(database: Database) -> AsyncIterator[Any]:
    """A connection a task holds checked out until the block ends, when the task is
    cancelled (as at shutdown); yields its driver connection."""
    held: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def hold() -> None:
        async with database.read() as conn:
            await conn.exec_driver_sql("SELECT 1")
            held.set_result((await conn.get_raw_connection()).driver_connection)
            await asyncio.Event().wait()  # until cancelled

    holder = asyncio.create_task(hold())
    try:
        yield await held
    finally:
        holder.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await holder


async def test_dispose_closes_a_connection_a_task_still_holds(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        async with held_connection(database) as in_use:
            async with database.read() as conn:  # a pooled connection beside it
                pooled = (await conn.get_raw_connection()).driver_connection
            assert in_use is not pooled
            assert not in_use.is_closed()

            await database.dispose()

            assert pooled.is_closed()
            assert in_use.is_closed()
    finally:
        await database.dispose()


async def test_a_database_used_after_dispose_opens_and_closes_again(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        for _ in range(2):
            async with database.read() as conn:
                assert (await conn.exec_driver_sql("SELECT 1")).scalar() == 1
                driver = (await conn.get_raw_connection()).driver_connection
            await database.dispose()
            assert driver.is_closed()
    finally:
        await database.dispose()


def _sqlite_workers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "_connection_worker_thread" in t.name}


async def test_dispose_closes_a_sqlite_connection_a_task_still_holds(tmp_path: Path) -> None:
    before = _sqlite_workers()
    database = Database(f"sqlite:///{tmp_path / 'tocsin.db'}")
    try:
        async with held_connection(database):
            async with database.read() as conn:  # a pooled connection beside it
                await conn.exec_driver_sql("SELECT 1")
            assert len(_sqlite_workers() - before) == 2

            await database.dispose()

            # Each connection's worker thread ends once its connection is closed.
            for worker in _sqlite_workers() - before:
                await asyncio.to_thread(worker.join, 5)
            assert _sqlite_workers() - before == set()
    finally:
        await database.dispose()
