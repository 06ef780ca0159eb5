"""The demo's setup: an API key and an admin user written to its fresh database before
the server starts, then the webhook channel and the monitors created through the API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tocsin.errors import TocsinError

CHANNEL = "demo-alerts"
APP_MONITOR = "demo-app"
WEB_MONITOR = "demo-web"
POOL_MONITOR = "demo-worker-pool"
ADMIN = "demo"


@dataclass(frozen=True)
class Credentials:
    """What the demo made: a read-write API key and the admin's password."""

    api_key: str
    admin_password: str


def seed_database(database_url: str, admin_password: str) -> Credentials:
    """Migrate the database, then add a read-write API key and the ``demo`` admin."""
    from tocsin.server.dashboard.passwords import hash_password
    from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key
    from tocsin.server.storage.database import Database
    from tocsin.server.storage.migrate import upgrade
    from tocsin.server.storage.users import Role, create_user

    upgrade(database_url)
    password_hash = hash_password(admin_password)

    async def work() -> str:
        database = Database(database_url)
        try:
            async with database.write() as conn:
                now = datetime.now(UTC)
                created = await create_api_key(conn, "tocsin demo", ApiKeyScope.WRITE, now)
                await create_user(conn, ADMIN, password_hash, Role.ADMIN, now)
        finally:
            await database.dispose()
        return created.key

    return Credentials(api_key=asyncio.run(work()), admin_password=admin_password)


def create_monitors(base_url: str, api_key: str, app_url: str, receiver_url: str) -> str:
    """Create the channel and the three monitors; return the worker pool's ping URL."""
    with httpx.Client(
        base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {api_key}"}, timeout=10
    ) as api:
        _post(api, "/channels", {"name": CHANNEL, "kind": "webhook", "url": receiver_url})
        _post(
            api,
            "/monitors",
            {
                "name": APP_MONITOR,
                "kind": "app",
                "url": f"{app_url}/healthz",
                # The server fills ${HEALTH_TOKEN} from its environment at probe time.
                "headers": {"Authorization": "Bearer ${HEALTH_TOKEN}"},
                "interval": "2s",
                "confirm": {"fail": 2, "recover": 1},
                "components": {"rq:workers": {"fail": "< 1"}},
                "channels": [CHANNEL],
            },
        )
        _post(
            api,
            "/monitors",
            {
                "name": WEB_MONITOR,
                "kind": "http",
                "url": f"{app_url}/",
                "interval": "5s",
                "channels": [CHANNEL],
            },
        )
        pool = _post(
            api,
            "/monitors",
            {"name": POOL_MONITOR, "period": "10s", "grace": "10s", "channels": [CHANNEL]},
        )
    return str(pool["ping_url"])


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post(path, json=body)
    if answer.status_code != 201:
        raise TocsinError(f"POST {path} answered {answer.status_code}: {answer.text}")
    created: dict[str, Any] = answer.json()
    return created
