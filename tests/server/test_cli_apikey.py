"""`tocsin apikey`: keys made on the command line open the API; revoked ones do not.

The CLI runs in-process through click's runner against the parametrized database
(SQLite and PostgreSQL), named the way a user names it: ``TOCSIN_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from tests.server.web.api.conftest import running
from tocsin.cli import cli
from tocsin.server.web.app import create_app
from tocsin.settings import Settings


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env)
    return result.exit_code, result.stdout, result.stderr


async def _get(settings: Settings, headers: dict[str, str], method: str = "GET") -> int:
    """Status of ``/api/v1/monitors`` on the real server app (lifespan and engines running)."""
    app = create_app(settings)
    async with running(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            if method == "POST":
                answer = await client.post(
                    "/api/v1/monitors", json={"name": "cli"}, headers=headers
                )
            else:
                answer = await client.get("/api/v1/monitors", headers=headers)
    return answer.status_code


def test_created_key_opens_the_api_until_revoked(database_url: str, tmp_path: Path) -> None:
    env = {"TOCSIN_DATA_DIR": str(tmp_path), "TOCSIN_DATABASE_URL": database_url}
    settings = Settings.from_env(env)

    code, key, hint = _run(["apikey", "create", "--name", "deploy"], env)
    assert code == 0, hint
    key = key.strip()
    assert key.startswith("tocsin_rw_")
    assert "not shown again" in hint
    assert asyncio.run(_get(settings, {"Authorization": f"Bearer {key}"}, "POST")) == 201

    code, ro_key, _ = _run(["apikey", "create", "--read-only"], env)
    ro_key = ro_key.strip()
    assert ro_key.startswith("tocsin_ro_")
    assert asyncio.run(_get(settings, {"X-Api-Key": ro_key})) == 200
    assert asyncio.run(_get(settings, {"X-Api-Key": ro_key}, "POST")) == 403

    code, listing, _ = _run(["apikey", "list", "--json"], env)
    keys = json.loads(listing)["api_keys"]
    assert [(k["name"], k["scope"]) for k in keys] == [("deploy", "write"), ("", "read")]
    assert keys[0]["last_used_at"] is not None
    assert key not in listing

    key_id = keys[0]["key_id"]
    code, out, _ = _run(["apikey", "revoke", key_id], env)
    assert (code, out.strip()) == (0, f"revoked {key_id}")
    assert asyncio.run(_get(settings, {"Authorization": f"Bearer {key}"})) == 401

    code, table, _ = _run(["apikey", "list"], env)
    assert f"{key_id}  read-write" in table
    assert "revoked" in table


def test_friendly_errors(tmp_path: Path) -> None:
    env = {"TOCSIN_DATA_DIR": str(tmp_path)}
    code, _, err = _run(["apikey", "revoke", "nosuchkey"], env)
    assert (code, err.strip()) == (2, "error: no API key 'nosuchkey'")
    code, _, err = _run(["apikey", "create", "--name", "x" * 101], env)
    assert code == 2
    assert "at most 100 characters" in err
    code, out, err = _run(["apikey", "list"], env)
    assert (code, out) == (0, "")
    assert "tocsin apikey create" in err
    code, _, err = _run(["apikey", "list"], {"TOCSIN_DATABASE_URL": "mysql://x/y"})
    assert code == 2
    assert "Traceback" not in err
