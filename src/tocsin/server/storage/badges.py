"""Status badges: a random key per badge naming one monitor or one tag.

The key is the whole credential (the badge URL is meant to be shared), so it is kept in
the row for admins to copy again; a request finds its row by the key's SHA-256 (no timing
oracle on the key itself) and then compares the keys in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import ValidationError
from tocsin.server.storage.tables import badges, monitors

LABEL_MAX = 60
TAG_MAX = 100


@dataclass(frozen=True)
class BadgeRecord:
    """A badge: of ``monitor_id`` (named ``monitor_name``) or of every monitor with ``tag``."""

    id: int
    project_id: int
    monitor_id: int | None
    monitor_name: str | None
    tag: str | None
    label: str
    key: str
    created_at: datetime


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


_COLUMNS = (
    badges.c.id,
    badges.c.project_id,
    badges.c.monitor_id,
    monitors.c.name,
    badges.c.tag,
    badges.c.label,
    badges.c.key,
    badges.c.created_at,
)


_QUERY = select(*_COLUMNS).outerjoin(monitors, monitors.c.id == badges.c.monitor_id)


async def create_badge(
    conn: AsyncConnection,
    project_id: int,
    *,
    monitor_id: int | None,
    tag: str | None,
    label: str,
    now: datetime,
) -> BadgeRecord:
    """A new badge with a fresh random key (one of ``monitor_id`` and ``tag``)."""
    label, tag = label.strip(), (tag.strip() if tag else None)
    problems: dict[str, str] = {}
    if (monitor_id is None) == (not tag):
        problems["target"] = "choose a monitor or a tag (one of them)"
    if tag is not None and len(tag) > TAG_MAX:
        problems["tag"] = f"must be at most {TAG_MAX} characters"
    if not 1 <= len(label) <= LABEL_MAX:
        problems["label"] = f"must be 1-{LABEL_MAX} characters"
    if problems:
        raise ValidationError("invalid badge", problems)
    key = secrets.token_urlsafe(24)  # 192 random bits
    values = {
        "project_id": project_id,
        "monitor_id": monitor_id,
        "tag": tag or None,
        "label": label,
        "key": key,
        "key_hash": _digest(key),
        "created_at": now,
    }
    result = await conn.execute(insert(badges).values(**values).returning(badges.c.id))
    badge_id = int(result.scalar_one())
    row = (await conn.execute(_QUERY.where(badges.c.id == badge_id))).one()
    return BadgeRecord(*row)


async def list_badges(conn: AsyncConnection, project_id: int) -> list[BadgeRecord]:
    """The project's badges, oldest first."""
    query = _QUERY.where(badges.c.project_id == project_id).order_by(badges.c.id)
    return [BadgeRecord(*row) for row in (await conn.execute(query)).all()]


async def find_badge(conn: AsyncConnection, key: str) -> BadgeRecord | None:
    """The badge whose key is ``key``, or ``None``."""
    if not 16 <= len(key) <= 64:
        return None
    row = (await conn.execute(_QUERY.where(badges.c.key_hash == _digest(key)))).first()
    if row is None or not hmac.compare_digest(row.key.encode(), key.encode()):
        return None
    return BadgeRecord(*row)


async def delete_badge(conn: AsyncConnection, project_id: int, badge_id: int) -> None:
    """Delete a badge: its URL stops working at once."""
    await conn.execute(
        delete(badges).where(badges.c.project_id == project_id, badges.c.id == badge_id)
    )
