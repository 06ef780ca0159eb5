"""The ``empty_database`` fixture helper leaves only the default project behind."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.server.conftest import empty_database
from tocsin.server.dashboard.passwords import hash_password
from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import metadata
from tocsin.server.storage.users import Role, create_user

KEPT = {"projects", "alembic_version"}


async def test_every_table_but_the_projects_is_emptied(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.write() as conn:
            await create_user(
                conn, "ada", hash_password("correct horse battery"), Role.ADMIN, datetime.now(UTC)
            )
        await empty_database(database_url)
        async with database.read() as conn:
            counts = {
                table.name: (await conn.execute(select(func.count()).select_from(table))).scalar()
                for table in metadata.sorted_tables
            }
    finally:
        await database.dispose()
    assert {name: count for name, count in counts.items() if name not in KEPT and count} == {}
    assert counts["projects"] == 1
