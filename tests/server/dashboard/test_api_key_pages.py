"""The API keys page over HTTP (SQLite and PostgreSQL): admins list, create and revoke
keys with the same storage as ``tocsin apikey``; a new key is shown once and works
against the API at once, a revoked one stops at once; read-only users get 403."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from tests.server.dashboard.conftest import add_user, client_for, csrf_token, log_in
from tests.server.live import LiveServer
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key, list_api_keys
from tocsin.server.storage.tables import api_keys
from tocsin.server.storage.users import Role

NEW_KEY = re.compile(r'id="new-key"[^>]* value="(tocsin_r[ow]_[a-z0-9]{12}_[A-Za-z0-9_-]+)"')


@asynccontextmanager
async def logged_in(
    server: LiveServer, role: Role = Role.ADMIN
) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in as a new user with ``role``."""
    name = "ada" if role is Role.ADMIN else "rob"
    await add_user(server, name, role)
    async with client_for(server) as client:
        assert (await log_in(client, name)).status_code == 303
        yield client


def _api(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_an_admin_creates_a_key_that_is_shown_once_and_works(server: LiveServer) -> None:
    async with server.database.write() as conn:  # as `tocsin apikey create` does
        await create_api_key(conn, "from the cli", ApiKeyScope.WRITE, datetime.now(UTC))
    async with logged_in(server) as client:
        page = await client.get("/ui/api-keys")
        created = await client.post(
            "/ui/api-keys",
            data={"csrf_token": csrf_token(page), "name": "grafana", "scope": "read"},
        )
        match = NEW_KEY.search(created.text)
        assert match, created.text
        key = match.group(1)
        read = await client.get("/api/v1/channels", headers=_api(key))
        write = await client.post(
            "/api/v1/channels",
            headers=_api(key),
            json={"name": "x", "kind": "email", "to": ["a@example.com"]},
        )
        later = await client.get("/ui/api-keys")
    assert page.status_code == 200 and "from the cli" in page.text
    assert "(no name)" not in page.text
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    assert "it is shown this once" in created.text and "Ctrl+C" in created.text
    assert "New read-only key “grafana”" in created.text
    assert key.startswith("tocsin_ro_")
    assert (read.status_code, write.status_code) == (200, 403)
    # Listed by its public part only; the secret half is in no later page.
    key_id, secret = key.removeprefix("tocsin_ro_").split("_", 1)
    assert f"<code>tocsin_ro_{key_id}_…</code>" in later.text
    assert secret not in later.text and key not in later.text
    row = re.search(r"<tr>\s*<th scope=\"row\">grafana</th>.*?</tr>", later.text, re.S)
    assert row, later.text
    assert "read-only" in row.group(0) and "active" in row.group(0)
    assert re.search(
        r"<td><time [^>]*>\d{4}-\d\d-\d\d \d\d:\d\d UTC</time></td>\s*<td><time", row.group(0)
    )
    # Stored hashed, by the same storage as the CLI.
    async with server.database.read() as conn:
        hashes = (await conn.execute(select(api_keys.c.secret_hash))).scalars().all()
        names = {k.name for k in await list_api_keys(conn)}
    assert names == {"from the cli", "grafana"}
    assert all(secret not in stored for stored in hashes)


async def test_a_revoked_key_stops_working_at_once(server: LiveServer) -> None:
    async with logged_in(server) as client:
        page = await client.get("/ui/api-keys")
        token = csrf_token(page)
        created = await client.post(
            "/ui/api-keys", data={"csrf_token": token, "name": "", "scope": "write"}
        )
        match = NEW_KEY.search(created.text)
        assert match, created.text
        key = match.group(1)
        key_id = key.split("_")[2]
        before = await client.get("/api/v1/channels", headers=_api(key))
        ask = await client.get(f"/ui/api-keys/{key_id}/revoke")
        no_token = await client.post(f"/ui/api-keys/{key_id}/revoke")
        revoked = await client.post(f"/ui/api-keys/{key_id}/revoke", data={"csrf_token": token})
        after = await client.get("/api/v1/channels", headers=_api(key))
        listing = await client.get("/ui/api-keys")
        again = await client.get(f"/ui/api-keys/{key_id}/revoke")
        unknown = await client.get("/ui/api-keys/aaaaaaaaaaaa/revoke")
        malformed = await client.post("/ui/api-keys/%00%27/revoke", data={"csrf_token": token})
    assert created.status_code == 201 and "New admin key" in created.text
    assert key.startswith("tocsin_rw_")
    assert before.status_code == 200
    assert ask.status_code == 200 and "stops working at once" in ask.text
    assert no_token.status_code == 403 and "Form expired" in no_token.text
    assert revoked.status_code == 303 and revoked.headers["location"] == "/ui/api-keys"
    assert after.status_code == 401
    assert "(no name)" in listing.text and 'class="state key-revoked">revoked<' in listing.text
    assert f'href="/ui/api-keys/{key_id}/revoke"' not in listing.text
    assert "Already revoked" in again.text
    assert (unknown.status_code, malformed.status_code) == (404, 404)


async def test_bad_forms_are_refused_next_to_their_fields(server: LiveServer) -> None:
    async with logged_in(server) as client:
        token = csrf_token(await client.get("/ui/api-keys"))
        bad_scope = await client.post(
            "/ui/api-keys", data={"csrf_token": token, "name": "ci", "scope": "root"}
        )
        long_name = await client.post(
            "/ui/api-keys", data={"csrf_token": token, "name": "n" * 101, "scope": "read"}
        )
        nul_name = await client.post(
            "/ui/api-keys", data={"csrf_token": token, "name": "a\x00b", "scope": "read"}
        )
    assert bad_scope.status_code == 422
    assert '<p class="error" id="key-scope-error">Choose read-only or admin.</p>' in bad_scope.text
    assert 'value="ci"' in bad_scope.text
    assert long_name.status_code == 422
    assert "Name must be at most 100 characters." in long_name.text
    assert nul_name.status_code == 422 and "must not contain NUL" in nul_name.text
    assert NEW_KEY.search(bad_scope.text + long_name.text + nul_name.text) is None
    async with server.database.read() as conn:
        assert await list_api_keys(conn) == []


async def test_read_only_users_cannot_see_or_change_keys(server: LiveServer) -> None:
    async with server.database.write() as conn:
        made = await create_api_key(conn, "secret-ish", ApiKeyScope.WRITE, datetime.now(UTC))
    key_id = made.record.key_id
    async with logged_in(server, Role.READ_ONLY) as client:
        home = await client.get("/")
        token = csrf_token(home)
        pages = [
            await client.get("/ui/api-keys"),
            await client.get(f"/ui/api-keys/{key_id}/revoke"),
            await client.post("/ui/api-keys", data={"csrf_token": token, "scope": "write"}),
            await client.post(f"/ui/api-keys/{key_id}/revoke", data={"csrf_token": token}),
        ]
    assert [page.status_code for page in pages] == [403] * 4
    assert all("Admins only" in page.text for page in pages)
    assert all("secret-ish" not in page.text for page in pages)
    async with server.database.read() as conn:
        (kept,) = await list_api_keys(conn)
    assert kept.revoked_at is None
