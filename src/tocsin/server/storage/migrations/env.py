"""Alembic environment: runs migrations on tocsin's async engine."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context

from tocsin.server.storage.database import migration_engine
from tocsin.server.storage.tables import metadata

config = context.config


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    engine = migration_engine(config.attributes["database_url"])
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("tocsin runs migrations online only: use `tocsin migrate`")
asyncio.run(_online())
