"""The project a monitor belongs to. There is one, ``default``, until projects arrive."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import TocsinError
from tocsin.server.storage.tables import projects

DEFAULT_PROJECT = "default"


@dataclass(frozen=True)
class Project:
    """A project: its id and the ping key used by slug ping URLs."""

    id: int
    name: str
    ping_key: str

    @property
    def fingerprint(self) -> str:
        """A short id of this project, and so of its database, that reveals nothing: equal
        for every program using the same database, different for another database."""
        return hashlib.sha256(f"tocsin-project:{self.ping_key}".encode()).hexdigest()[:16]


async def default_project(conn: AsyncConnection) -> Project:
    """The default project (created by the first migration)."""
    row = (
        (await conn.execute(select(projects).where(projects.c.name == DEFAULT_PROJECT)))
        .mappings()
        .first()
    )
    if row is None:
        raise TocsinError("the database has no default project: run `tocsin migrate`")
    return Project(id=row["id"], name=row["name"], ping_key=row["ping_key"])
