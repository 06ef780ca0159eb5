"""API keys at the door: 401 without a valid key, 403 for a read-only key that writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from tests.server.web.api.conftest import make_key
from tocsin.server.storage.apikeys import ApiKeyScope, revoke_api_key
from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import api_keys

API = "/api/v1"


def _assert_401(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == "Bearer"
    assert set(answer.json()) == {"error"}


async def test_every_route_needs_a_key(anonymous: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/monitors"),
        ("POST", "/monitors"),
        ("GET", "/monitors/x"),
        ("PATCH", "/monitors/x"),
        ("DELETE", "/monitors/x"),
        ("POST", "/monitors/x/pause"),
        ("POST", "/monitors/x/resume"),
        ("GET", "/monitors/x/pings"),
        ("GET", "/monitors/x/flips"),
        ("GET", "/channels"),
        ("POST", "/channels"),
        ("GET", "/channels/x"),
        ("PATCH", "/channels/x"),
        ("DELETE", "/channels/x"),
    ]:
        # A bad body must not be judged before the key is: no key, no information.
        _assert_401(await anonymous.request(method, f"{API}{path}", content=b"{not json"))


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"X-Api-Key": "tocsin_rw_abcdefghijkl_" + "A" * 43},
        {"X-Api-Key": ""},
    ],
    ids=["garbage", "basic-auth", "empty-bearer", "unknown-key", "empty-header"],
)
async def test_bad_keys_are_refused(anonymous: httpx.AsyncClient, headers: dict[str, str]) -> None:
    _assert_401(await anonymous.get(f"{API}/monitors", headers=headers))


async def test_tampered_secret_and_scope_are_refused(
    anonymous: httpx.AsyncClient, write_key: str
) -> None:
    assert (await anonymous.get(f"{API}/monitors", headers={"X-Api-Key": write_key})).is_success
    tampered = write_key[:-2] + ("AA" if not write_key.endswith("AA") else "BB")
    _assert_401(await anonymous.get(f"{API}/monitors", headers={"X-Api-Key": tampered}))
    # Relabelling a read-write key as read-only (or back) does not make another valid key.
    relabelled = write_key.replace("tocsin_rw_", "tocsin_ro_", 1)
    _assert_401(await anonymous.get(f"{API}/monitors", headers={"X-Api-Key": relabelled}))


async def test_revoked_key_is_refused(anonymous: httpx.AsyncClient, db: Database) -> None:
    key = await make_key(db, ApiKeyScope.WRITE)
    headers = {"Authorization": f"Bearer {key}"}
    assert (await anonymous.get(f"{API}/monitors", headers=headers)).status_code == 200
    async with db.write() as conn:
        await revoke_api_key(conn, key.split("_")[2], datetime.now(UTC))
    _assert_401(await anonymous.get(f"{API}/monitors", headers=headers))


async def test_read_only_key_reads_but_cannot_write(
    reader: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await client.post(f"{API}/monitors", json={"name": "m"})
    assert (await reader.get(f"{API}/monitors")).status_code == 200
    assert (await reader.get(f"{API}/monitors/m/pings")).status_code == 200
    for method, path in [
        ("POST", "/monitors"),
        ("PATCH", "/monitors/m"),
        ("DELETE", "/monitors/m"),
        ("POST", "/monitors/m/pause"),
        ("POST", "/channels"),
        ("DELETE", "/channels/x"),
    ]:
        answer = await reader.request(method, f"{API}{path}", json={"name": "n"})
        assert answer.status_code == 403, (method, path)
        assert answer.json() == {
            "error": "this API key is read-only; changes need a read-write key"
        }
    assert (await reader.get(f"{API}/monitors/m")).json()["state"] == "new"


async def test_last_used_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, db: Database, write_key: str
) -> None:
    key_id = write_key.split("_")[2]

    async def last_used() -> datetime | None:
        async with db.read() as conn:
            value: datetime | None = (
                await conn.execute(
                    select(api_keys.c.last_used_at).where(api_keys.c.key_id == key_id)
                )
            ).scalar_one()
        return value

    assert await last_used() is None
    await client.get(f"{API}/monitors")
    first = await last_used()
    assert first is not None
    await client.get(f"{API}/monitors")
    assert await last_used() == first

    older = first - timedelta(minutes=2)
    async with db.write() as conn:
        await conn.execute(
            update(api_keys).where(api_keys.c.key_id == key_id).values(last_used_at=older)
        )
    await client.get(f"{API}/monitors")
    latest = await last_used()
    assert latest is not None
    assert latest > older
