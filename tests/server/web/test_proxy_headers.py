"""One rule for X-Forwarded-Proto / X-Forwarded-For: believed only with TOCSIN_TRUST_PROXY,
and then only the entries our proxy appended (the last ones), never the client's own.

uvicorn on its own applies them for peers on 127.0.0.1; a real ``tocsin server`` must not,
or any local client could claim HTTPS or another address. Checked where they matter: the
dashboard cookies' Secure flag, the failed-login throttle per client address, and the
address a ping is recorded from.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.server.dashboard.conftest import PASSWORD, csrf_token, log_in
from tests.server_process import start_server
from tocsin.server.dashboard.passwords import hash_password
from tocsin.server.storage.database import Database
from tocsin.server.storage.users import Role, create_user


async def add_admin(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.write() as conn:
            await create_user(conn, "ada", hash_password(PASSWORD), Role.ADMIN, datetime.now(UTC))
    finally:
        await database.dispose()


def test_forwarded_headers_are_ignored_without_trust_proxy(tmp_path: Path) -> None:
    with start_server(tmp_path) as server:
        asyncio.run(add_admin(server.database_url))
        asyncio.run(_check_forwarding_is_ignored(server.base_url))


async def _check_forwarding_is_ignored(base_url: str) -> None:
    headers = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        page = await client.get("/ui/login")
    assert page.status_code == 200
    assert "secure" not in page.headers["set-cookie"].lower()

    # Failed logins from this one address are counted together whatever it claims to be.
    async with httpx.AsyncClient(base_url=base_url) as client:
        for number in range(5):
            claimed = {"X-Forwarded-For": f"203.0.113.{number + 1}"}
            page = await client.get("/ui/login", headers=claimed)
            answer = await client.post(
                "/ui/login",
                data={"csrf_token": csrf_token(page), "username": f"u{number}", "password": "x"},
                headers=claimed,
            )
            assert answer.status_code == 401
        locked = await log_in(client, "ada")
    assert locked.status_code == 429


def test_a_trusted_proxy_is_believed_for_the_entries_it_appended(tmp_path: Path) -> None:
    with start_server(tmp_path, TOCSIN_TRUST_PROXY="1") as server:
        asyncio.run(add_admin(server.database_url))
        ping_url = server.create_heartbeat_monitor("nightly", 3600, 600)
        # The client wrote the first entry; the proxy appended the address it saw.
        spoofed = {"X-Forwarded-For": "203.0.113.66, 198.51.100.7"}
        assert httpx.get(ping_url, headers=spoofed).status_code == 200
        assert [ping["remote_addr"] for ping in server.pings(ping_url)] == ["198.51.100.7"]
        asyncio.run(_check_proxy_is_believed(server.base_url))


async def _check_proxy_is_believed(base_url: str) -> None:
    # A client claiming http to a proxy that appends what it served: TLS.
    async with httpx.AsyncClient(base_url=base_url) as client:
        page = await client.get("/ui/login", headers={"X-Forwarded-Proto": "http, https"})
    assert page.status_code == 200
    assert "secure" in page.headers["set-cookie"].lower()

    # The throttle counts per address the proxy saw, whatever the client claims before it:
    # five failures from 198.51.100.7 lock it out, and another real client is not.
    async with httpx.AsyncClient(base_url=base_url) as client:
        for number in range(5):
            claimed = {"X-Forwarded-For": f"203.0.113.{number + 1}, 198.51.100.7"}
            page = await client.get("/ui/login", headers=claimed)
            answer = await client.post(
                "/ui/login",
                data={"csrf_token": csrf_token(page), "username": f"u{number}", "password": "x"},
                headers=claimed,
            )
            assert answer.status_code == 401
        client.headers["X-Forwarded-For"] = "198.51.100.7"
        assert (await log_in(client, "ada")).status_code == 429
        client.headers["X-Forwarded-For"] = "198.51.100.8"
        assert (await log_in(client, "ada")).status_code in (200, 303)
