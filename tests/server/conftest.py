"""Server-side fixtures: one migrated database per backend, emptied between tests.

``database_url`` is parametrized over SQLite and PostgreSQL, so every test that uses it
(or ``db``) runs on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from tocsin.server.storage.database import Database
from tocsin.server.storage.migrate import upgrade
from tocsin.server.storage.tables import metadata


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database file for the session."""
    path: Path = tmp_path_factory.mktemp("sqlite") / "tocsin.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_url: str) -> str:
    """The session's PostgreSQL database, migrated."""
    upgrade(postgres_url)
    return postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database URL, once for SQLite and once for PostgreSQL; emptied afterwards."""
    name = "sqlite_url" if request.param == "sqlite" else "migrated_postgres_url"
    url: str = request.getfixturevalue(name)
    yield url
    asyncio.run(empty_database(url))


# Tables that outlive a test: the default project (made by the first migration) and
# Alembic's own record of the migrations.
KEPT_TABLES = frozenset({"projects", "alembic_version"})


async def empty_database(url: str) -> None:
    """Delete every row of every table but ``KEPT_TABLES``, dependents before the rows
    they refer to (so new tables are emptied too, without being listed here)."""
    database = Database(url)
    try:
        async with database.write() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name not in KEPT_TABLES:
                    await conn.execute(delete(table))
    finally:
        await database.dispose()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """An open ``Database`` on the parametrized backend."""
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()
