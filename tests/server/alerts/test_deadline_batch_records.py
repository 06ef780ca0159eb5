"""Writes that queue while another runs share one transaction; a failing one fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from tocsin.server.storage.coalesced_writes import CoalescedWrites
from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import server_nodes


def add_node(conn: Connection, node: str) -> None:
    """One row per call (``node`` is the primary key, so a repeat fails)."""
    now = datetime.now(UTC)
    conn.execute(insert(server_nodes).values(node=node, started_at=now, seen_at=now))


def count_transactions(db: Database) -> list[int]:
    """The calls of each transaction ``db.run_write`` commits from now on."""
    sizes: list[int] = []
    real = db.run_write

    async def counted(work: Callable[..., Any], *args: Any) -> Any:
        sizes.append(len(args[0]))
        return await real(work, *args)

    db.run_write = counted  # type: ignore[method-assign]
    return sizes


async def stored_nodes(db: Database) -> set[str]:
    async with db.read() as conn:
        return set((await conn.execute(select(server_nodes.c.node))).scalars())


async def test_writes_made_together_share_a_transaction(db: Database) -> None:
    writes = CoalescedWrites(db, add_node)
    transactions = count_transactions(db)
    await writes.write("first")  # nothing running: written at once, alone
    assert transactions == [1]
    await asyncio.gather(*(writes.write(f"node-{n}") for n in range(50)))
    assert sum(transactions) == 51
    assert len(transactions) <= 3  # not 51
    assert await stored_nodes(db) == {"first"} | {f"node-{n}" for n in range(50)}


async def test_a_failing_write_fails_alone(db: Database) -> None:
    writes = CoalescedWrites(db, add_node)
    await writes.write("taken")
    names = [f"node-{n}" for n in range(5)] + ["taken"] + [f"node-{n}" for n in range(5, 10)]
    outcomes = await asyncio.gather(*(writes.write(name) for name in names), return_exceptions=True)
    failed = [name for name, outcome in zip(names, outcomes, strict=True) if outcome is not None]
    assert failed == ["taken"]
    assert isinstance(outcomes[names.index("taken")], IntegrityError)
    assert await stored_nodes(db) == set(names)


async def test_a_lone_failing_write_raises_its_error(db: Database) -> None:
    writes = CoalescedWrites(db, add_node)
    await writes.write("taken")
    with pytest.raises(IntegrityError):
        await writes.write("taken")
    await writes.write("next")  # the queue goes on
    assert await stored_nodes(db) == {"taken", "next"}
