"""PostgreSQL never JIT-compiles tocsin's statements, on any of its connections.

Before, a batch's statements with key arrays and correlated subqueries were estimated
costly enough to compile: the alert policy's read of 1,000 monitors going down took
442 ms, 418 of them compiling, and the alerts of a burst queued behind it.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from tocsin.server.storage.database import Database

# Estimated above PostgreSQL's default jit_above_cost (100,000): planned with JIT when on.
COSTLY = (
    "EXPLAIN SELECT sum(a.x * b.x) FROM generate_series(1, 2000) a(x), "
    "generate_series(1, 2000) b(x)"
)


def _plan(conn: Connection) -> str:
    return "\n".join(row[0] for row in conn.exec_driver_sql(COSTLY))


async def test_no_connection_plans_with_jit(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        async with database.read() as conn:
            assert (await conn.exec_driver_sql("SHOW jit_above_cost")).scalar() == "100000"
            read_plan = "\n".join(row[0] for row in await conn.exec_driver_sql(COSTLY))
        async with database.write() as conn:
            write_plan = "\n".join(row[0] for row in await conn.exec_driver_sql(COSTLY))
        batch_plan = await database.run_write(_plan)
    finally:
        await database.dispose()

    for plan in (read_plan, write_plan, batch_plan):
        assert "Nested Loop" in plan
        assert "JIT" not in plan
