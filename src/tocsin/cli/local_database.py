"""Run one piece of work on the settings' own database, for commands that act on the
server's machine (`tocsin apikey`, `tocsin user`) and never over the API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from tocsin.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")


def with_local_database(work: Callable[[AsyncConnection], Awaitable[T]], *, write: bool) -> T:
    """Migrate the settings' database, then run ``work`` on a connection to it (in one
    transaction, committed when ``work`` returns, with ``write``)."""
    from tocsin.server.storage.database import Database
    from tocsin.server.storage.migrate import upgrade

    settings = Settings.from_env()
    # Alembic runs its own event loop, so migrations go first, before ours starts.
    upgrade(settings.database_url)

    async def run() -> T:
        database = Database(settings.database_url)
        try:
            if write:
                async with database.write() as conn:
                    return await work(conn)
            async with database.read() as conn:
                return await work(conn)
        finally:
            await database.dispose()

    return asyncio.run(run())
