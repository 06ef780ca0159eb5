"""`tocsin status` tells where slug ping URLs point: the project's ping key in the URL,
read from the local database or from the server's ``GET /api/v1/project``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner, Result

from tests.conftest import free_port
from tests.server.live import live_server
from tocsin.cli import cli
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key


async def tocsin(env: dict[str, str | None], *args: str) -> Result:
    """Run a CLI command in a thread (it starts its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def test_status_names_the_slug_ping_url_locally_and_remotely(
    database_url: str, tmp_path: Path
) -> None:
    base = "https://tocsin.example.com"
    async with live_server(database_url, tmp_path / "server", TOCSIN_BASE_URL=base) as server:
        ping_key = await server.ping_key()
        async with server.database.write() as conn:
            created = await create_api_key(conn, "status", ApiKeyScope.READ, datetime.now(UTC))
        slug_line = f"tocsin: slug ping URLs: {base}/ping/{ping_key}/<slug>"

        remote = await tocsin(
            {"TOCSIN_URL": server.base_url, "TOCSIN_API_KEY": created.key}, "status"
        )
        assert remote.exit_code == 0, remote.output
        assert remote.stderr.splitlines() == [f"tocsin: using server {server.base_url}", slug_line]

        local = await tocsin(
            {
                "TOCSIN_URL": None,
                "TOCSIN_API_KEY": None,
                "TOCSIN_DATABASE_URL": database_url,
                "TOCSIN_DATA_DIR": str(tmp_path / "cli"),
                "TOCSIN_BASE_URL": base,
                "TOCSIN_PORT": str(free_port()),  # no server there: no warning line
            },
            "status",
            "--json",
        )
        assert local.exit_code == 0, local.output
        assert local.stderr.splitlines()[1:] == [slug_line]
        assert local.stdout.strip() == "[]"
