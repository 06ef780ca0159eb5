"""Alembic migrations, run programmatically: at server start and by ``tocsin migrate``."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic ``Config`` for ``database_url`` without any ``alembic.ini`` on disk."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default). Safe to run again.

    Must not be called from inside a running event loop (Alembic's env uses
    ``asyncio.run``); async callers use ``asyncio.to_thread(upgrade, url)``.
    """
    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    import asyncio

    from alembic.runtime.migration import MigrationContext

    from tocsin.server.storage.database import migration_engine

    async def read() -> str | None:
        engine = migration_engine(database_url)
        try:
            async with engine.connect() as conn:
                revision: str | None = await conn.run_sync(
                    lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
                )
                return revision
        finally:
            await engine.dispose()

    return asyncio.run(read())
