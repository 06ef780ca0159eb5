"""Keys and API reads for tests that run a real ``tocsin server`` subprocess."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.server_process import ServerProcess


def credentials(server: ServerProcess) -> tuple[str, str]:
    """A read-write API key and the project's ping key, from the server's database."""
    from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key
    from tocsin.server.storage.database import Database
    from tocsin.server.storage.projects import default_project

    async def make() -> tuple[str, str]:
        database = Database(server.database_url)
        try:
            async with database.write() as conn:
                created = await create_api_key(conn, "beat", ApiKeyScope.WRITE, datetime.now(UTC))
                project = await default_project(conn)
        finally:
            await database.dispose()
        return created.key, project.ping_key

    result: tuple[str, str] = asyncio.run(make())
    return result


def api(server: ServerProcess, key: str, path: str) -> Any:
    answer = httpx.get(
        f"{server.base_url}/api/v1{path}", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    return answer.json()
