"""The database handle: async engines for SQLite (WAL) and PostgreSQL (asyncpg).

``Database.read()`` gives a connection for queries; ``Database.write()`` a connection
inside a transaction that commits on success; ``Database.run_write()`` runs synchronous
SQLAlchemy code in one write transaction (the engines' hot paths). On SQLite every write
transaction starts with ``BEGIN IMMEDIATE``: SQLite has a single writer, and taking the
write lock up front avoids the deadlock of two readers both upgrading.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tocsin.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000


def async_url(database_url: str) -> URL:
    """The async driver URL for a user's ``sqlite:///`` or ``postgresql://`` URL."""
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise ConfigError(f"TOCSIN_DATABASE_URL {database_url!r} is not a database URL") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        try:
            import asyncpg  # noqa: F401
        except ModuleNotFoundError as exc:
            raise ConfigError(
                "PostgreSQL needs the asyncpg driver: install tocsin[postgres]"
            ) from exc
        return url.set(drivername="postgresql+asyncpg")
    raise ConfigError(
        f"TOCSIN_DATABASE_URL uses {backend!r}; tocsin supports sqlite:/// and postgresql://"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level: SQLAlchemy's BEGIN events below decide.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process (not a power cut); see docs/architecture.md.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_engine(url: URL, *, immediate: bool, pool_size: int) -> AsyncEngine:
    database = url.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    if immediate:
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    else:
        event.listen(engine.sync_engine, "begin", _begin_deferred)
    return engine


def _begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


class _StaleConnection(Exception):
    """A statement failed because the connection had been closed by the server."""


class Database:
    """Engines for one database URL, with separate read and write paths."""

    def __init__(self, database_url: str, *, pool_size: int = 5) -> None:
        self.url = async_url(database_url)
        self.dialect = self.url.get_backend_name()
        self._sync_write_engine: Engine | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        self._batch_engine: AsyncEngine | None = None
        if self.dialect == "sqlite":
            self.read_engine = _sqlite_engine(self.url, immediate=False, pool_size=pool_size)
            self.write_engine = _sqlite_engine(self.url, immediate=True, pool_size=1)
        else:
            self.read_engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True
            )
            self.write_engine = self.read_engine
            # The engines' hot paths check out a connection per transaction; a pre-ping
            # would add a round trip to each. Instead run_write runs a transaction again
            # when its connection turns out to be dead.
            self._batch_engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=10, pool_pre_ping=False
            )

    async def run_write(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(connection, *args)`` in one write transaction and return its result.

        ``work`` is synchronous SQLAlchemy code, so a whole transaction costs one hop:
        on SQLite it runs on the database's own writer thread and connection (every
        engine write in the process goes through it, so they never fight over SQLite's
        lock); on PostgreSQL it runs through ``run_sync`` on a connection from a pool
        that skips the pre-ping round trip (see ``__init__``).
        """
        if self.is_sqlite:
            if self._write_thread is None:
                self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="tocsin-sqlite")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._write_thread, functools.partial(self._write_sync, work, *args)
            )
        assert self._batch_engine is not None
        try:
            return await self._run_pg(self._batch_engine, work, *args)
        except _StaleConnection:
            # The pool skips pre-pings, so a connection the server dropped (a restart, a
            # failover) shows up here. The failure came from a statement, so nothing was
            # committed, and the pool has discarded its old connections: run it again.
            logger.warning("database connection was lost; running the transaction again")
        return await self._run_pg(self._batch_engine, work, *args)

    @staticmethod
    async def _run_pg(engine: AsyncEngine, work: Callable[..., T], *args: Any) -> T:
        async with engine.begin() as conn:
            try:
                result: T = await conn.run_sync(work, *args)
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise _StaleConnection from exc
                raise
        return result

    def _write_sync(self, work: Callable[..., T], *args: Any) -> T:
        with self._sqlite_write_engine().begin() as conn:
            return work(conn, *args)

    def _sqlite_write_engine(self) -> Engine:
        if self._sync_write_engine is None:
            assert self.is_sqlite, "only SQLite needs a synchronous write engine"
            engine = create_engine(
                self.url.set(drivername="sqlite+pysqlite"),
                pool_size=1,
                max_overflow=0,
                pool_timeout=60,
                # Every use is `engine.begin()`, which commits or rolls back itself.
                pool_reset_on_return=None,
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _begin_immediate)
            self._sync_write_engine = engine
        return self._sync_write_engine

    @property
    def is_sqlite(self) -> bool:
        """Whether this is SQLite (single writer, no row locks)."""
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, in a short transaction that is rolled back."""
        async with self.read_engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction, committed when the block ends cleanly."""
        async with self.write_engine.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()
        if self._batch_engine is not None:
            await self._batch_engine.dispose()
        if self._write_thread is not None:
            self._write_thread.shutdown(wait=True)
            self._write_thread = None
        if self._sync_write_engine is not None:
            self._sync_write_engine.dispose()


def sync_engine_for_migrations(database_url: str) -> Any:
    """A throwaway async engine (no pooling) for Alembic to run migrations on."""
    url = async_url(database_url)
    engine = create_async_engine(url, poolclass=NullPool)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine
