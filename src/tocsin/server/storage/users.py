"""Dashboard users: creating, finding, listing and deleting them.

Only password *hashes* reach this module (``tocsin.server.dashboard.passwords`` makes
them); a ``UserRecord`` carries its hash for verification but never shows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import ConflictError, NotFoundError, ValidationError
from tocsin.server.storage.tables import users

USERNAME_MAX = 100
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


class Role(StrEnum):
    """What a user may do, as API key scopes: ``read-only`` views, ``admin`` changes."""

    ADMIN = "admin"
    READ_ONLY = "read-only"

    @property
    def can_write(self) -> bool:
        """Whether the role may change things (the read-write API key scope)."""
        return self is Role.ADMIN


@dataclass(frozen=True)
class UserRecord:
    """A user as stored."""

    id: int
    username: str
    role: Role
    created_at: datetime
    last_login_at: datetime | None
    disabled: bool
    password_hash: str = field(repr=False)

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> UserRecord:
        """Build a record from a ``users`` row."""
        return cls(
            id=row["id"],
            username=row["username"],
            role=Role(row["role"]),
            created_at=row["created_at"],
            last_login_at=row["last_login_at"],
            disabled=bool(row["disabled"]),
            password_hash=row["password_hash"],
        )

    def to_json(self) -> dict[str, Any]:
        """The user as ``tocsin user list --json`` shows it (never the hash)."""
        return {
            "username": self.username,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "disabled": self.disabled,
        }


def check_username(username: str) -> str:
    """``username`` stripped; ``ValidationError`` unless it is 1-100 plain characters."""
    name = username.strip()
    if not name or len(name) > USERNAME_MAX or not _USERNAME.match(name):
        raise ValidationError(
            "invalid user",
            {
                "username": f"must be 1-{USERNAME_MAX} letters, digits or . _ @ - "
                "and start with a letter or digit"
            },
        )
    return name


async def create_user(
    conn: AsyncConnection,
    username: str,
    password_hash: str,
    role: Role,
    now: datetime,
    *,
    only_if_none: bool = False,
) -> UserRecord:
    """Create a user; ``ConflictError`` if the name is taken, or (with ``only_if_none``)
    if any user exists already (the first-run page creates only the first admin)."""
    name = check_username(username)
    values = {
        "username": name,
        "password_hash": password_hash,
        "role": role.value,
        "created_at": now,
        "disabled": False,
    }
    try:
        if only_if_none:
            # One statement, so two first-run requests cannot both see "no user yet".
            chosen = select(*(literal(value).label(key) for key, value in values.items()))
            chosen = chosen.where(~exists(select(users.c.id)))
            result = await conn.execute(insert(users).from_select(list(values), chosen))
            if not result.rowcount:
                raise ConflictError("a user exists already")
        else:
            await conn.execute(insert(users).values(**values))
    except IntegrityError as exc:
        raise ConflictError(f"user {name!r} exists already") from exc
    return await get_user(conn, name)


async def find_user(conn: AsyncConnection, username: str) -> UserRecord | None:
    """The user called ``username``, or ``None``."""
    row = (
        (await conn.execute(select(users).where(users.c.username == username.strip())))
        .mappings()
        .first()
    )
    return None if row is None else UserRecord.from_row(row)


async def get_user(conn: AsyncConnection, username: str) -> UserRecord:
    """The user called ``username``; ``NotFoundError`` if none."""
    user = await find_user(conn, username)
    if user is None:
        raise NotFoundError(f"no user {username.strip()!r}")
    return user


async def count_users(conn: AsyncConnection) -> int:
    """How many users exist."""
    return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())


async def list_users(conn: AsyncConnection) -> list[UserRecord]:
    """Every user by name."""
    rows = await conn.execute(select(users).order_by(users.c.username))
    return [UserRecord.from_row(row) for row in rows.mappings().all()]


async def delete_user(conn: AsyncConnection, username: str) -> None:
    """Delete a user and (by cascade) their sessions; ``NotFoundError`` if none."""
    user = await get_user(conn, username)
    await conn.execute(delete(users).where(users.c.id == user.id))


async def record_login(
    conn: AsyncConnection, user_id: int, now: datetime, new_hash: str | None = None
) -> None:
    """Note a successful login (and store a re-made hash when the parameters changed)."""
    values: dict[str, Any] = {"last_login_at": now}
    if new_hash is not None:
        values["password_hash"] = new_hash
    await conn.execute(update(users).where(users.c.id == user_id).values(**values))
