"""API key storage on both databases: format, verification, listing, revocation."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tocsin.errors import NotFoundError, ValidationError
from tocsin.server.storage.apikeys import (
    ApiKeyScope,
    create_api_key,
    find_api_key,
    list_api_keys,
    parse_key,
    revoke_api_key,
)
from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import api_keys

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def test_key_format_and_only_a_hash_is_stored(db: Database) -> None:
    async with db.write() as conn:
        rw = await create_api_key(conn, "deploy", ApiKeyScope.WRITE, NOW)
        ro = await create_api_key(conn, "grafana", ApiKeyScope.READ, NOW)
    assert re.fullmatch(r"tocsin_rw_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", rw.key)
    assert ro.key.startswith(f"tocsin_ro_{ro.record.key_id}_")
    secret = rw.key.split("_", 3)[3]
    async with db.read() as conn:
        stored = (await conn.execute(select(api_keys))).mappings().all()
    assert all(secret not in str(dict(row)) for row in stored)
    parsed = parse_key(rw.key)
    assert parsed is not None
    assert (parsed.scope, parsed.key_id, parsed.secret) == (
        ApiKeyScope.WRITE,
        rw.record.key_id,
        secret,
    )


async def test_find_verifies_and_revocation_sticks(db: Database) -> None:
    async with db.write() as conn:
        created = await create_api_key(conn, "ci", ApiKeyScope.READ, NOW)
    async with db.read() as conn:
        found = await find_api_key(conn, created.key)
        assert found == created.record
        assert found is not None
        assert not found.can_write
        assert await find_api_key(conn, created.key + "x") is None
        assert await find_api_key(conn, "tocsin_ro_") is None
    async with db.write() as conn:
        revoked = await revoke_api_key(conn, created.record.key_id, NOW)
        again = await revoke_api_key(conn, created.key, datetime.now(UTC))
    assert revoked.revoked_at == again.revoked_at == NOW
    async with db.read() as conn:
        assert await find_api_key(conn, created.key) is None
        listed = await list_api_keys(conn)
    assert [key.key_id for key in listed] == [created.record.key_id]
    assert listed[0].to_json()["revoked_at"] == NOW.isoformat()


async def test_revoking_an_unknown_key_and_long_names(db: Database) -> None:
    async with db.write() as conn:
        with pytest.raises(NotFoundError):
            await revoke_api_key(conn, "nosuchkey", NOW)
        with pytest.raises(ValidationError):
            await create_api_key(conn, "n" * 101, ApiKeyScope.READ, NOW)
