"""API keys: creating, verifying, listing and revoking them.

A key looks like ``tocsin_rw_<key_id>_<secret>`` (read-write) or ``tocsin_ro_<key_id>_<secret>``
(read-only), so a user can tell them apart at a glance and secret scanners can spot them.
``key_id`` is public and finds the row; only a hash of ``secret`` is stored, so the full key
is shown once, when it is created, and never again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import NotFoundError, ValidationError
from tocsin.server.domain.storable import is_storable
from tocsin.server.storage.tables import api_keys

KEY_ID_LENGTH = 12
SECRET_BYTES = 32
NAME_MAX = 100
# ``last_used_at`` is refreshed at most this often per key, not on every request: it is
# there to answer "is this key still in use?", and a write per request would cost more
# than every other query of a read (on SQLite it takes the single write lock).
LAST_USED_RESOLUTION = timedelta(minutes=1)

_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits


class ApiKeyScope(StrEnum):
    """What a key may do: ``read`` (GET only) or ``write`` (everything)."""

    READ = "read"
    WRITE = "write"

    @property
    def prefix(self) -> str:
        """The start of every key of this scope: ``tocsin_ro_`` or ``tocsin_rw_``."""
        return "tocsin_ro_" if self is ApiKeyScope.READ else "tocsin_rw_"


_KEY_PATTERN = re.compile(
    rf"^tocsin_(?P<scope>ro|rw)_(?P<key_id>[a-z0-9]{{{KEY_ID_LENGTH}}})_(?P<secret>[A-Za-z0-9_-]{{43,128}})$"
)


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored (without its secret)."""

    id: int
    key_id: str
    name: str
    scope: ApiKeyScope
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: RowMapping) -> ApiKeyRecord:
        """Build a record from an ``api_keys`` row."""
        return cls(
            id=row["id"],
            key_id=row["key_id"],
            name=row["name"],
            scope=ApiKeyScope(row["scope"]),
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            revoked_at=row["revoked_at"],
        )

    @property
    def can_write(self) -> bool:
        """Whether the key may change things."""
        return self.scope is ApiKeyScope.WRITE

    def needs_touch(self, now: datetime) -> bool:
        """Whether ``last_used_at`` is stale enough to be written again."""
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_RESOLUTION

    def to_json(self) -> dict[str, Any]:
        """The key as ``tocsin apikey list --json`` would show it (never the secret)."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "scope": self.scope.value,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class NewApiKey:
    """A freshly created key: the only moment the full ``key`` is known."""

    record: ApiKeyRecord
    key: str


@dataclass(frozen=True)
class PresentedKey:
    """A key as a client sent it, split into its parts (not yet verified)."""

    scope: ApiKeyScope
    key_id: str
    secret: str


def _hash_secret(secret: str) -> str:
    # A plain SHA-256 is right here: the secret is 32 random bytes, so there is nothing to
    # brute-force and a slow password hash (bcrypt, argon2) would only slow every request.
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse_key(presented: str) -> PresentedKey | None:
    """Split ``presented`` into scope, key id and secret; ``None`` if it is not a tocsin key."""
    match = _KEY_PATTERN.match(presented.strip())
    if match is None:
        return None
    scope = ApiKeyScope.READ if match["scope"] == "ro" else ApiKeyScope.WRITE
    return PresentedKey(scope=scope, key_id=match["key_id"], secret=match["secret"])


def _new_key_id() -> str:
    return "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))


def name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a key's name (``None`` if nothing): the one rule for
    the CLI, the API and the dashboard."""
    if not is_storable(name):
        return "must not contain NUL or unpaired surrogate characters"
    if len(name.strip()) > NAME_MAX:
        return f"must be at most {NAME_MAX} characters"
    return None


async def create_api_key(
    conn: AsyncConnection, name: str, scope: ApiKeyScope, now: datetime
) -> NewApiKey:
    """Create a key; the returned ``NewApiKey.key`` is the only copy of the full key."""
    problem = name_problem(name)
    if problem is not None:
        raise ValidationError("invalid API key", {"name": problem})
    name = name.strip()
    key_id = _new_key_id()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    result = await conn.execute(
        insert(api_keys).values(
            key_id=key_id,
            name=name,
            scope=scope.value,
            secret_hash=_hash_secret(secret),
            created_at=now,
        )
    )
    key_pk = result.inserted_primary_key[0] if result.inserted_primary_key else None
    assert key_pk is not None
    record = ApiKeyRecord(
        id=int(key_pk),
        key_id=key_id,
        name=name,
        scope=scope,
        created_at=now,
        last_used_at=None,
        revoked_at=None,
    )
    return NewApiKey(record=record, key=f"{scope.prefix}{key_id}_{secret}")


async def find_api_key(conn: AsyncConnection, presented: str) -> ApiKeyRecord | None:
    """The live key that ``presented`` is, or ``None`` (malformed, unknown, wrong secret,
    wrong scope prefix or revoked: the caller cannot and should not tell which)."""
    parts = parse_key(presented)
    if parts is None:
        return None
    row = (
        (await conn.execute(select(api_keys).where(api_keys.c.key_id == parts.key_id)))
        .mappings()
        .first()
    )
    if row is None:
        return None
    if not hmac.compare_digest(row["secret_hash"], _hash_secret(parts.secret)):
        return None
    record = ApiKeyRecord.from_row(row)
    if record.revoked_at is not None or record.scope is not parts.scope:
        return None
    return record


async def touch_api_key(conn: AsyncConnection, key_id: str, now: datetime) -> bool:
    """Set ``last_used_at`` unless it was set within the last minute; return whether it was."""
    result = await conn.execute(
        update(api_keys)
        .where(
            api_keys.c.key_id == key_id,
            or_(
                api_keys.c.last_used_at.is_(None),
                api_keys.c.last_used_at <= now - LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=now)
    )
    return bool(result.rowcount)


async def list_api_keys(conn: AsyncConnection) -> list[ApiKeyRecord]:
    """Every key, revoked ones included, oldest first."""
    rows = await conn.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id))
    return [ApiKeyRecord.from_row(row) for row in rows.mappings().all()]


async def get_api_key(conn: AsyncConnection, key_id: str) -> ApiKeyRecord:
    """The key with public id ``key_id``; ``NotFoundError`` if none."""
    parts = parse_key(key_id)
    wanted = parts.key_id if parts is not None else key_id.strip()
    row = (
        (await conn.execute(select(api_keys).where(api_keys.c.key_id == wanted))).mappings().first()
    )
    if row is None:
        raise NotFoundError(f"no API key {wanted!r}")
    return ApiKeyRecord.from_row(row)


async def revoke_api_key(conn: AsyncConnection, key_id: str, now: datetime) -> ApiKeyRecord:
    """Revoke a key for good (revoking twice keeps the first time); return it."""
    current = await get_api_key(conn, key_id)
    if current.revoked_at is not None:
        return current
    await conn.execute(update(api_keys).where(api_keys.c.id == current.id).values(revoked_at=now))
    return await get_api_key(conn, current.key_id)
