"""Every driver connection a ``Database`` opened, so closing it closes them all.

An engine's ``dispose()`` closes the connections in its pool. A connection a task held
when it was cancelled can end up in no pool at all (SQLAlchemy and asyncpg both have such
windows: sqlalchemy#6652, #12077, #13548) and stay open until the garbage collector finds
it, later and in another place: asyncpg warns "unclosed connection", and aiosqlite's
worker thread answers its last call to an event loop that has closed meanwhile ("Event
loop is closed", raised in that thread). Holding each connection from the pool's
``connect`` until its ``close``, and closing those still held when the database is
disposed, closes them when the server stops instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

# How long an aiosqlite connection may take to finish the call it is running and close.
SQLITE_CLOSE_SECONDS = 5.0


class OpenConnections:
    """The driver connections (asyncpg or aiosqlite) opened by the engines given to
    ``watch`` and not closed by their pools yet."""

    def __init__(self) -> None:
        self._connections: dict[int, Any] = {}

    def watch(self, engine: AsyncEngine) -> None:
        """Note each connection ``engine`` opens from now on, until its pool closes it."""
        pool_events = engine.sync_engine
        event.listen(pool_events, "connect", self._opened, insert=True)
        event.listen(pool_events, "close", self._forget)
        event.listen(pool_events, "close_detached", self._forget)

    # Keyed by the id of SQLAlchemy's adapter around the driver connection: the object
    # the pool's events pass.
    def _opened(self, dbapi_connection: Any, record: Any) -> None:
        self._connections[id(dbapi_connection)] = record.driver_connection

    def _forget(self, dbapi_connection: Any, *_record: Any) -> None:
        self._connections.pop(id(dbapi_connection), None)

    async def close_all(self) -> int:
        """Close every noted connection still open; return how many there were.

        Call after the engines were disposed: what is left then belongs to no pool.
        asyncpg connections are terminated; an aiosqlite one first finishes the call it
        is running (up to ``SQLITE_CLOSE_SECONDS``).
        """
        stranded = list(self._connections.values())
        self._connections.clear()
        closed = 0
        for connection in stranded:
            if hasattr(connection, "terminate"):  # asyncpg
                if not connection.is_closed():
                    connection.terminate()
                    closed += 1
            elif getattr(connection, "_connection", None) is not None:  # an open aiosqlite one
                closed += 1
                try:
                    async with asyncio.timeout(SQLITE_CLOSE_SECONDS):
                        await connection.close()
                except Exception:
                    logger.exception("closing a SQLite connection left open failed")
        if closed:
            logger.warning(
                "closed %d database connections still open after the pools closed", closed
            )
        return closed
