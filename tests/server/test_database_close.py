"""Disposing a PostgreSQL ``Database`` closes every connection it opened, including one
a task still holds (as a task cancelled at shutdown can leave it).

Before, such a connection stayed open until the garbage collector found it, in whatever
test ran next, as an "unclosed connection" ResourceWarning.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tocsin.server.storage.database import Database


async def test_dispose_closes_a_connection_a_task_still_holds(postgres_url: str) -> None:
    database = Database(postgres_url)
    held = asyncio.Event()
    drivers: list[Any] = []

    async def hold_a_connection() -> None:
        async with database.read() as conn:
            await conn.exec_driver_sql("SELECT 1")
            drivers.append((await conn.get_raw_connection()).driver_connection)
            held.set()
            await asyncio.Event().wait()  # until cancelled

    holder = asyncio.create_task(hold_a_connection())
    await held.wait()
    try:
        async with database.read() as conn:  # a pooled connection beside it
            drivers.append((await conn.get_raw_connection()).driver_connection)
        [in_use, pooled] = drivers
        assert in_use is not pooled
        assert not in_use.is_closed()

        await database.dispose()

        assert pooled.is_closed()
        assert in_use.is_closed()
    finally:
        holder.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await holder
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
