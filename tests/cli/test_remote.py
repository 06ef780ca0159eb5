"""`apply`, `status`, `ping` and `run` against a real tocsin server over HTTP.

The server (uvicorn + ``create_app``) runs in the test's event loop; each CLI command runs
in a worker thread, as it would in its own process, with its own event loop.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner, Result

from tests.server.live import LiveServer, live_server
from tocsin.cli import cli
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key

CONFIG = """\
channels:
  - name: ops
    kind: webhook
    url: http://127.0.0.1:9/hook
    timeout: 5s
monitors:
  - name: nightly-backup
    period: 1d
    grace: 1h
    channels: [ops]
  - name: invoice-cron
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    grace: 30m
    tags: [billing]
    channels: [ops]
"""


async def key(server: LiveServer, scope: ApiKeyScope) -> str:
    async with server.database.write() as conn:
        created = await create_api_key(conn, f"cli-{scope.value}", scope, datetime.now(UTC))
    return created.key


async def tocsin(env: dict[str, str | None], *args: str) -> Result:
    """Run a CLI command in a thread (it starts its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def test_apply_and_status_through_the_api(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    async with live_server(database_url, tmp_path / "server") as server:
        env: dict[str, str | None] = {
            "TOCSIN_URL": server.base_url,
            "TOCSIN_API_KEY": await key(server, ApiKeyScope.WRITE),
            # Must not be used in remote mode: a local database that does not exist.
            "TOCSIN_DATABASE_URL": f"sqlite:///{tmp_path}/unused/nothing.db",
        }
        first = await tocsin(env, "apply", "-f", str(path))
        assert first.exit_code == 0, first.output
        assert first.stderr == f"tocsin: using server {server.base_url}\n"
        assert first.stdout.splitlines()[3] == "3 created, 0 changed, 0 deleted"
        # Applied from a file, through the API too: owned by config.
        assert {m.managed_by.value for m in await server.monitors()} == {"config"}
        second = await tocsin(env, "apply", "-f", str(path))
        assert (second.exit_code, second.stdout) == (0, "no changes\n"), second.output

        path.write_text(
            CONFIG.replace("period: 1d", 'cron: "*/5 * * * *"').replace("timeout: 5s", ""),
            encoding="utf-8",
        )
        changed = await tocsin(env, "apply", "-f", str(path))
        assert changed.stdout.splitlines() == [
            "~ channel ops: timeout 5s → none",
            "~ monitor nightly-backup: period 1d → none, cron none → '*/5 * * * *'",
            "0 created, 2 changed, 0 deleted",
        ], changed.output
        assert (await tocsin(env, "apply", "-f", str(path))).stdout == "no changes\n"

        path.write_text(CONFIG.split("  - name: invoice-cron")[0], encoding="utf-8")
        pruned = await tocsin(env, "apply", "-f", str(path), "--prune")
        assert pruned.stdout.splitlines() == [
            "~ channel ops: timeout none → 5s",
            "~ monitor nightly-backup: period none → 1d, cron '*/5 * * * *' → none",
            "- monitor invoice-cron",
            "0 created, 2 changed, 1 deleted",
        ], pruned.output

        status = await tocsin(env, "status", "--json")
        assert status.exit_code == 0, status.output
        [monitor] = json.loads(status.stdout)
        assert (monitor["name"], monitor["kind"], monitor["state"]) == (
            "nightly-backup",
            "heartbeat",
            "new",
        )
        assert monitor["ping_url"].startswith(f"{server.base_url}/ping/")

        # The cron side: run a job against the monitor's ping URL, then see it up.
        code = "print('42 rows copied')"
        run = await tocsin(
            env, "run", "--ping", monitor["ping_url"], "--", sys.executable, "-c", code
        )
        assert run.exit_code == 0, run.output
        pings = await server.pings("nightly-backup")
        assert [p.kind for p in reversed(pings)] == ["start", "success"]
        assert pings[0].rid == pings[1].rid
        assert pings[0].body is not None and "42 rows copied" in pings[0].body
        table = await tocsin(env, "status")
        assert table.stdout.splitlines()[1].split()[:4] == [
            "nightly-backup",
            "heartbeat",
            "up",
            "0s",
        ]


async def test_remote_errors_are_clear(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    async with live_server(database_url, tmp_path / "server") as server:
        base: dict[str, str | None] = {"TOCSIN_URL": None}
        bad = await tocsin(
            base | {"TOCSIN_API_KEY": "tocsin_rw_nope"}, "status", "--url", server.base_url
        )
        assert bad.exit_code == 2
        assert "error: the server refused the API key (401): " in bad.stderr
        reader = base | {"TOCSIN_API_KEY": await key(server, ApiKeyScope.READ)}
        refused = await tocsin(reader, "apply", "-f", str(path), "--url", server.base_url)
        assert refused.exit_code == 2
        # The reason once, and no "after 0 of 3 changes were applied" for nothing applied.
        assert refused.stderr == (
            f"tocsin: using server {server.base_url}\n"
            f"error: {path}:2: channels[0] (ops): the API key may not create channel 'ops' "
            "(403): this API key is read-only; changes need a read-write key "
            "(nothing was applied)\n"
        )
        assert (await tocsin(reader, "status", "--url", server.base_url)).exit_code == 0
