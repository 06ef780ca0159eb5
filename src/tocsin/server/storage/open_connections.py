"""Every asyncpg connection a ``Database`` opened, so closing it closes them all.

An engine's ``dispose()`` closes the connections in its pool. A connection a task held
when it was cancelled can end up in no pool at all (SQLAlchemy and asyncpg both have such
windows: sqlalchemy#6652, #12077, #13548) and stay open until the garbage collector finds
it, later and in another place, with a ``ResourceWarning`` ("unclosed connection").
Holding a reference to each connection until it is closed, and terminating those still
open when the database is disposed, closes them when the server stops instead.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)


class _DriverConnection(Protocol):
    def is_closed(self) -> bool: ...

    def terminate(self) -> None: ...


class OpenConnections:
    """The driver connections opened by the engines given to ``watch``."""

    def __init__(self) -> None:
        self._connections: dict[int, _DriverConnection] = {}

    def watch(self, engine: AsyncEngine) -> None:
        """Note each connection ``engine`` opens from now on."""
        event.listen(engine.sync_engine, "connect", self._opened, insert=True)

    def _opened(self, _dbapi_connection: Any, record: Any) -> None:
        # Closed connections are dropped as new ones open, so the table stays as small
        # as the pools (plus any connection stranded until terminate_all).
        self._connections = {
            key: connection
            for key, connection in self._connections.items()
            if not connection.is_closed()
        }
        driver: _DriverConnection = record.driver_connection
        self._connections[id(driver)] = driver

    def still_open(self) -> int:
        """How many of the noted connections are open now."""
        return sum(1 for connection in self._connections.values() if not connection.is_closed())

    def terminate_all(self) -> int:
        """Close (abort) every noted connection still open; return how many there were.

        Call after the engines were disposed: what is still open then belongs to no pool.
        """
        stranded = [c for c in self._connections.values() if not c.is_closed()]
        self._connections.clear()
        for connection in stranded:
            connection.terminate()
        if stranded:
            logger.warning(
                "closed %d database connections still open after the pools closed", len(stranded)
            )
        return len(stranded)
