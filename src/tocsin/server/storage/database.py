"""The database handle: async engines for SQLite (WAL) and PostgreSQL (asyncpg).

``Database.read()`` gives a connection for queries; ``Database.write()`` a connection
inside a transaction that commits on success; ``Database.run_write()`` runs synchronous
SQLAlchemy code in one write transaction (the engines' hot paths).

Who writes: on SQLite the file has one write lock. Within the process the engines'
transactions (``run_write``) take turns on one thread and connection, while API writes
(``write()``) use a second connection, and other processes (``tocsin apply``,
``tocsin migrate``) may write too: they all queue for the lock (``busy_timeout``). Every
SQLite write transaction starts with ``BEGIN IMMEDIATE``, taking the lock up front, so
two transactions that both read first never deadlock upgrading. PostgreSQL has no single
writer: ``run_write`` transactions run side by side on a pool of their own and API writes
on the read pool; row locks (``FOR UPDATE`` in id order) order writers that touch the
same monitors.

A lost connection surfaces as ``DatabaseUnavailable`` (the API answers 503). On SQLite the
database file is checked after every write transaction: if it was deleted or replaced,
what was just committed went to a file nobody will read again, so the transaction fails
with ``DatabaseLost``, and so does every later one (see ``Database.lost``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
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

from tocsin.errors import ConfigError, TocsinError
from tocsin.server.storage.open_connections import OpenConnections

logger = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
# PostgreSQL's JIT compiles a statement whose estimated cost passes ``jit_above_cost``.
# Our statements are short and indexed, but a batch's key array and correlated subqueries
# inflate the estimates: the alert policy's read of 1,000 monitors took 442 ms, 418 of
# them compiling, and 19 ms without JIT. Every connection of ours turns it off.
POSTGRES_CONNECT_ARGS: dict[str, Any] = {"server_settings": {"jit": "off"}}


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


class DatabaseUnavailable(TocsinError):
    """The database cannot serve this request now (a lost connection, a missing file)."""


class DatabaseLost(DatabaseUnavailable):
    """The SQLite file this process opened is no longer at its path: deleted or replaced.

    Writes would go to a file nobody will read again, and only a new process opens what
    is at the path now, so every write fails from then on.
    """


def _unavailable(exc: Exception) -> DatabaseUnavailable | None:
    """``exc`` as ``DatabaseUnavailable`` when it means the database cannot be reached."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailable("the database connection was lost; try again")
    if isinstance(exc, OSError):  # asyncpg's own: connection refused, unreachable host
        return DatabaseUnavailable("the database cannot be reached; try again")
    return None


class _FileWatch:
    """Notices when the SQLite file at ``path`` is no longer the one the process opened.

    The identity (device, inode) is taken when the first write connection opens the
    file; ``check()`` compares the path's identity with it (one ``stat``, about a
    microsecond). Once lost, always lost: the error is logged once, here.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity: tuple[int, int] | None = None
        self.lost: str | None = None
        self._lock = threading.Lock()

    def opened(self) -> None:
        """A write connection was just opened on the path: remember or compare the file."""
        try:
            found = os.stat(self.path)
        except OSError:
            self._lose("was deleted")
            return
        identity = (found.st_dev, found.st_ino)
        with self._lock:
            if self.identity is None:
                self.identity = identity
                return
        if identity != self.identity:
            self._lose("was replaced by another file")

    def check(self) -> None:
        """Raise ``DatabaseLost`` unless the path still holds the file the process opened."""
        if self.lost is None and self.identity is not None:
            try:
                found = os.stat(self.path)
            except FileNotFoundError:
                self._lose("was deleted")
            else:
                if (found.st_dev, found.st_ino) != self.identity:
                    self._lose("was replaced by another file")
        if self.lost is not None:
            raise DatabaseLost(self.lost)

    def _lose(self, what: str) -> None:
        with self._lock:
            if self.lost is not None:
                return
            self.lost = (
                f"the database file {self.path} {what}; writes since then are refused: "
                "restart the server once the file is back"
            )
        logger.error(
            "database file lost path=%s problem=%r; refusing writes until restarted",
            self.path,
            what,
        )


class Database:
    """Engines for one database URL, with separate read and write paths."""

    def __init__(self, database_url: str, *, pool_size: int = 5) -> None:
        self.url = async_url(database_url)
        self.dialect = self.url.get_backend_name()
        self._sync_write_engine: Engine | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        self._batch_engine: AsyncEngine | None = None
        self._file: _FileWatch | None = None
        self._open_connections = OpenConnections()
        if self.dialect == "sqlite":
            self.read_engine = _sqlite_engine(self.url, immediate=False, pool_size=pool_size)
            self.write_engine = _sqlite_engine(self.url, immediate=True, pool_size=1)
            self._open_connections.watch(self.read_engine)
            self._open_connections.watch(self.write_engine)
            database = self.url.database or ""
            if database and database != ":memory:" and not self.url.query.get("uri"):
                self._file = _FileWatch(Path(database).absolute())
                event.listen(self.write_engine.sync_engine, "connect", self._opened)
        else:
            self.read_engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=10,
                pool_pre_ping=True,
                connect_args=POSTGRES_CONNECT_ARGS,
            )
            self.write_engine = self.read_engine
            # The engines' hot paths check out a connection per transaction; a pre-ping
            # would add a round trip to each. Instead run_write runs a transaction again
            # when its connection turns out to be dead.
            self._batch_engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=10,
                pool_pre_ping=False,
                connect_args=POSTGRES_CONNECT_ARGS,
            )
            self._open_connections.watch(self.read_engine)
            self._open_connections.watch(self._batch_engine)

    async def run_write(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(connection, *args)`` in one write transaction and return its result.

        ``work`` is synchronous SQLAlchemy code, so a whole transaction costs one hop:
        on SQLite it runs on the database's own writer thread and connection (the
        engines' writes take turns there rather than contending for SQLite's lock; API
        writes through ``write()`` and other processes still queue for it); on
        PostgreSQL it runs through ``run_sync`` on a connection from a pool that skips
        the pre-ping round trip (see ``__init__``), and once more if that connection
        turns out to be dead. Raises ``DatabaseUnavailable`` when the connection is lost
        twice, and ``DatabaseLost`` (SQLite) when the file was deleted or replaced.
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
        try:
            return await self._run_pg(self._batch_engine, work, *args)
        except _StaleConnection as exc:
            raise DatabaseUnavailable("the database connection was lost twice") from exc

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
        self._check_not_lost()
        with self._sqlite_write_engine().begin() as conn:
            result = work(conn, *args)
        self._check_file()
        return result

    def _opened(self, _dbapi_connection: Any, _record: Any) -> None:
        assert self._file is not None
        self._file.opened()

    def _check_not_lost(self) -> None:
        if self._file is not None and self._file.lost is not None:
            raise DatabaseLost(self._file.lost)

    def _check_file(self) -> None:
        # After the commit: a file deleted or replaced before it means the transaction
        # went to a file nobody will read, so its caller must not report success.
        if self._file is not None:
            self._file.check()

    @property
    def lost(self) -> str | None:
        """Why writes are refused for good (the SQLite file is gone), or ``None``."""
        return None if self._file is None else self._file.lost

    async def check_writable(self) -> None:
        """Commit one tiny real write (a no-op update of Alembic's version row).

        Raises what the write raised: ``DatabaseLost``, ``DatabaseUnavailable``, or the
        driver's error (a read-only database, a full disk, a lock held too long).
        """
        await self.run_write(_touch)

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
            if self._file is not None:
                event.listen(engine, "connect", self._opened)
            self._sync_write_engine = engine
        return self._sync_write_engine

    @property
    def is_sqlite(self) -> bool:
        """Whether this is SQLite (one write lock per file, no row locks)."""
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, in a short transaction that is rolled back.

        A connection lost mid-block raises ``DatabaseUnavailable`` (the pool's pre-ping
        already replaces connections that died while idle).
        """
        try:
            async with self.read_engine.connect() as conn:
                yield conn
        except (DBAPIError, OSError) as exc:
            unavailable = _unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction, committed when the block ends cleanly.

        Raises ``DatabaseUnavailable`` for a lost connection and ``DatabaseLost`` when
        the SQLite file was deleted or replaced (checked after the commit, as in
        ``run_write``).
        """
        self._check_not_lost()
        try:
            async with self.write_engine.begin() as conn:
                yield conn
        except (DBAPIError, OSError) as exc:
            unavailable = _unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc
        self._check_file()

    async def dispose(self) -> None:
        """Close every connection: the pooled ones, and any other this database opened
        that is still open (one a cancelled task stranded)."""
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()
        if self._batch_engine is not None:
            await self._batch_engine.dispose()
        await self._open_connections.close_all()
        if self._write_thread is not None:
            self._write_thread.shutdown(wait=True)
            self._write_thread = None
        if self._sync_write_engine is not None:
            self._sync_write_engine.dispose()


def _touch(conn: Any) -> None:
    conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")


def migration_engine(database_url: str) -> AsyncEngine:
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
