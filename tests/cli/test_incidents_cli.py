"""`tocsin silence`, `tocsin unsilence` and `tocsin incidents`, on the local database
(both backends) and through a running server's API."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.cli.test_remote import key
from tests.conftest import free_port
from tests.server.alerts.policy_rig import policy_rig
from tests.server.live import live_server
from tocsin.cli import cli
from tocsin.server.domain.spec import monitor_spec
from tocsin.server.storage.apikeys import ApiKeyScope
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.projects import default_project

Env = dict[str, str | None]


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Env:
    return {
        "TOCSIN_DATABASE_URL": database_url,
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_PORT": str(free_port()),
        "TOCSIN_URL": None,
        "TOCSIN_API_KEY": None,
    }


async def tocsin(env: Env, *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def test_silence_holds_and_incidents_list_locally(db: Database, env: Env) -> None:
    async with policy_rig(db) as rig:
        monitor = await rig.monitor(name="nightly", channels=["ops"])
        silenced = await tocsin(env, "silence", "nightly", "--for", "2h")
        assert silenced.exit_code == 0, silenced.output
        assert "nightly is silenced until" in silenced.output
        start = datetime.now(UTC)
        assert await rig.go_down(monitor, start) == []  # held

        listed = await tocsin(env, "incidents", "--open")
        assert listed.exit_code == 0, listed.output
        header, row = listed.stdout.splitlines()
        assert header.split()[:3] == ["OPENED", "(UTC)", "MONITOR"]
        assert row.split()[2:4] == ["nightly", "OPEN"]
        assert "no ping since" in row

        freed = await tocsin(env, "unsilence", "nightly")
        assert freed.exit_code == 0, freed.output
        released = await rig.wake(datetime.now(UTC) + timedelta(seconds=1))
        assert [n.kind.value for _, n in released.notices] == ["held_release"]
        [body] = await rig.received("ops", 1)
        assert body["event"] == "held_release"

        await rig.recover(monitor, start + timedelta(minutes=3))
        done = await tocsin(env, "incidents", "--json")
        [incident] = json.loads(done.stdout)
        assert incident["resolved_at"] is not None
        assert incident["duration_seconds"] == 180


async def test_silence_refuses_bad_input(db: Database, env: Env) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        await create_monitor(conn, project.id, monitor_spec({"name": "job"}), datetime.now(UTC))
    both = await tocsin(env, "silence", "job")
    assert both.exit_code == 2
    assert "either --for" in both.output
    bad = await tocsin(env, "silence", "job", "--for", "forever")
    assert bad.exit_code != 0
    assert "for" in bad.output
    missing = await tocsin(env, "unsilence", "job")
    assert missing.exit_code != 0
    assert "not silenced" in missing.output
    nobody = await tocsin(env, "silence", "ghost", "--for", "1h")
    assert nobody.exit_code != 0
    assert "ghost" in nobody.output


async def test_silence_and_incidents_through_a_server(
    database_url: str, tmp_path: Path, env: Env
) -> None:
    async with live_server(database_url, tmp_path / "server") as server:
        await server.create_monitor(name="nightly")
        remote = env | {
            "TOCSIN_URL": server.base_url,
            "TOCSIN_API_KEY": await key(server, ApiKeyScope.WRITE),
        }
        silenced = await tocsin(remote, "silence", "nightly", "--until", "2099-01-01T00:00:00Z")
        assert silenced.exit_code == 0, silenced.output
        assert "2099-01-01" in silenced.output
        assert (await tocsin(remote, "unsilence", "nightly")).exit_code == 0
        listed = await tocsin(remote, "incidents")
        assert listed.exit_code == 0, listed.output
        assert "no incidents" in listed.output
