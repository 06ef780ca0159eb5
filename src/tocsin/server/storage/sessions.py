"""Dashboard sessions: server-side rows found by the SHA-256 of the cookie's random id.

The cookie value is 256 random bits; the table holds only its hash, so a copy of the
database (a backup, a read-only SQL account) cannot be turned into a logged-in browser.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.tables import user_sessions, users
from tocsin.server.storage.users import UserRecord

ID_BYTES = 32
USER_AGENT_MAX = 300
# A session ends after this long without a request, and in any case this long after login.
IDLE_LIFETIME = timedelta(days=7)
ABSOLUTE_LIFETIME = timedelta(days=30)
# ``last_seen_at`` (and the sliding expiry) is written at most this often per session.
TOUCH_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionRecord:
    """A session as stored (without its id: only the hash is known after creation)."""

    id_hash: str
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> SessionRecord:
        """Build a record from a ``user_sessions`` row."""
        return cls(
            id_hash=row["id_hash"],
            user_id=row["user_id"],
            csrf_token=row["csrf_token"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            expires_at=row["expires_at"],
            user_agent=row["user_agent"],
        )

    def next_expiry(self, now: datetime) -> datetime:
        """When the session ends if it is used at ``now``."""
        return min(now + IDLE_LIFETIME, self.created_at + ABSOLUTE_LIFETIME)

    def needs_touch(self, now: datetime) -> bool:
        """Whether ``last_seen_at`` is stale enough to be written again."""
        return now - self.last_seen_at >= TOUCH_RESOLUTION


@dataclass(frozen=True)
class NewSession:
    """A freshly created session: the only moment its ``session_id`` is known."""

    record: SessionRecord
    session_id: str


def hash_session_id(session_id: str) -> str:
    """The stored form of a session id."""
    # SHA-256 suffices: the id is 256 random bits, there is nothing to brute-force.
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


async def create_session(
    conn: AsyncConnection, user_id: int, user_agent: str, now: datetime
) -> NewSession:
    """Start a session for ``user_id``, with a fresh id and CSRF token."""
    session_id = secrets.token_urlsafe(ID_BYTES)
    record = SessionRecord(
        id_hash=hash_session_id(session_id),
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(ID_BYTES),
        created_at=now,
        last_seen_at=now,
        expires_at=min(now + IDLE_LIFETIME, now + ABSOLUTE_LIFETIME),
        user_agent=user_agent[:USER_AGENT_MAX],
    )
    await conn.execute(
        insert(user_sessions).values(
            id_hash=record.id_hash,
            user_id=record.user_id,
            csrf_token=record.csrf_token,
            created_at=record.created_at,
            last_seen_at=record.last_seen_at,
            expires_at=record.expires_at,
            user_agent=record.user_agent,
        )
    )
    return NewSession(record=record, session_id=session_id)


async def find_session(
    conn: AsyncConnection, session_id: str, now: datetime
) -> tuple[SessionRecord, UserRecord] | None:
    """The live session ``session_id`` names and its (enabled) user, or ``None``."""
    row = (
        (
            await conn.execute(
                select(user_sessions, *(c.label(f"account_{c.name}") for c in users.c))
                .join(users, users.c.id == user_sessions.c.user_id)
                .where(
                    user_sessions.c.id_hash == hash_session_id(session_id),
                    user_sessions.c.expires_at > now,
                    users.c.disabled.is_(False),
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    # The user's columns are labelled account_*: both tables have a created_at.
    user = UserRecord.from_row({c.name: row[f"account_{c.name}"] for c in users.c})
    return SessionRecord.from_row(row), user


async def touch_session(conn: AsyncConnection, session: SessionRecord, now: datetime) -> None:
    """Record use at ``now`` and slide the expiry forward."""
    await conn.execute(
        update(user_sessions)
        .where(user_sessions.c.id_hash == session.id_hash)
        .values(last_seen_at=now, expires_at=session.next_expiry(now))
    )


async def delete_session(conn: AsyncConnection, session_id: str) -> None:
    """End the session ``session_id`` names (nothing happens if there is none)."""
    await conn.execute(
        delete(user_sessions).where(user_sessions.c.id_hash == hash_session_id(session_id))
    )


async def prune_sessions(conn: AsyncConnection, now: datetime) -> int:
    """Delete expired sessions; return how many."""
    result = await conn.execute(delete(user_sessions).where(user_sessions.c.expires_at <= now))
    return int(result.rowcount or 0)
