"""Dashboard fixtures: a live server with no users, and helpers that act like a browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete

from tests.server.live import LiveServer, live_server
from tocsin.server.dashboard.passwords import hash_password
from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import login_failures, user_sessions, users
from tocsin.server.storage.users import Role, create_user

PASSWORD = "correct horse battery"
_HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def empty_users(url: str) -> None:
    """Delete every user, session and failed login."""
    database = Database(url)
    try:
        async with database.write() as conn:
            for table in (login_failures, user_sessions, users):
                await conn.execute(delete(table))
    finally:
        await database.dispose()


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A live tocsin server whose database has no users yet."""
    await empty_users(database_url)
    async with live_server(database_url, tmp_path) as running:
        yield running
    await empty_users(database_url)


def client_for(server: LiveServer, **kwargs: object) -> httpx.AsyncClient:
    """A client that keeps cookies like a browser but does not follow redirects."""
    return httpx.AsyncClient(base_url=server.base_url, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


async def add_user(server: LiveServer, name: str, role: Role = Role.ADMIN) -> None:
    """Create a user with ``PASSWORD`` directly in storage (as `tocsin user create` does)."""
    async with server.database.write() as conn:
        await create_user(conn, name, hash_password(PASSWORD), role, datetime.now(UTC))


def csrf_token(page: httpx.Response) -> str:
    """The CSRF token a page's form carries."""
    match = _HIDDEN_TOKEN.search(page.text)
    assert match, page.text
    return match.group(1)


async def log_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """Open the login page and post its form."""
    page = await client.get("/ui/login")
    return await client.post(
        "/ui/login",
        data={"csrf_token": csrf_token(page), "username": name, "password": password},
    )
