"""`tocsin channel test|list` and `tocsin deliveries`, locally (both databases) and through
a real server's API, against real local receivers; `channel list` shows each channel's
newest delivery attempt.

Each command runs in a worker thread with its own event loop, as in its own process,
while the receivers and the server run in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner, Result

from tests.cli.test_remote import key
from tests.conftest import free_port
from tests.server.alerts.receivers import Receiver, receiver
from tests.server.alerts.test_channel_email import Recorder, smtp_server
from tests.server.live import live_server
from tests.server.web.api.test_deliveries import SECRET, TOKEN_URL, _history
from tocsin.cli import cli
from tocsin.server.domain.spec import channel_spec
from tocsin.server.storage.apikeys import ApiKeyScope
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.projects import default_project

Env = dict[str, str | None]


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Env:
    """A CLI run on the test database, with no server to compare it with."""
    return {
        "TOCSIN_DATABASE_URL": database_url,
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_PORT": str(free_port()),
        "TOCSIN_URL": None,
        "TOCSIN_API_KEY": None,
        "TOCSIN_SMTP_URL": None,
    }


async def tocsin(env: Env, *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def refuse_401(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
    return web.Response(status=401, text="bad signature")


async def _channel(db: Database, **fields: Any) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        await create_channel(conn, project.id, channel_spec(fields), datetime.now(UTC))


async def test_channel_test_locally_prints_the_answer_and_exits_by_it(
    db: Database, env: Env
) -> None:
    async with receiver() as good, receiver(refuse_401) as bad:
        await _channel(db, name="ops", kind="webhook", url=good.url)
        await _channel(db, name="strict", kind="webhook", url=bad.url)
        delivered = await tocsin(env, "channel", "test", "ops")
        failed = await tocsin(env, "channel", "test", "strict")
        missing = await tocsin(env, "channel", "test", "nope")
    assert delivered.exit_code == 0, delivered.output
    assert delivered.stdout.startswith("ops (webhook): delivered in ")
    assert delivered.stdout.endswith(" ms, HTTP 200\n")
    assert json.loads(good.requests[0].body)["event"] == "test"
    assert failed.exit_code == 1, failed.output
    assert "strict (webhook): failed in " in failed.stdout
    assert "HTTP 401" in failed.stdout and "bad signature" in failed.stdout
    assert "permanent: alerts to it would not be retried" in failed.stdout
    assert len(bad.requests) == 1
    assert missing.exit_code == 2
    assert "error: no channel 'nope'" in missing.stderr


async def test_channel_test_locally_sends_email_with_the_servers_smtp_url(
    db: Database, env: Env
) -> None:
    recorder = Recorder()
    await _channel(db, name="ops-mail", kind="email", to=["ops@example.com"])
    with smtp_server(recorder) as port:
        smtp = f"smtp://127.0.0.1:{port}?starttls=false&from=tocsin@example.com"
        result = await tocsin(env | {"TOCSIN_SMTP_URL": smtp}, "channel", "test", "ops-mail")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(" ms, SMTP 250\n")
    [(_envelope, mail)] = recorder.messages
    assert mail["Subject"] == "[tocsin] Test alert from tocsin"


async def test_deliveries_locally_as_a_table_and_as_json(db: Database, env: Env) -> None:
    await _history(db)
    table = await tocsin(env, "deliveries")
    assert table.exit_code == 0, table.output
    header, *rows = table.stdout.splitlines()
    assert header.split() == [
        "TIME", "(UTC)", "CHANNEL", "MONITOR", "KIND", "ATTEMPT", "OUTCOME", "STATUS",
        "DURATION", "ERROR",
    ]  # fmt: skip
    assert [row.split()[2:8] for row in rows] == [
        ["mail", "job", "down", "1", "delivered", "250"],
        ["ops", "web", "up", "1", "failed", "401"],
        ["ops", "job", "down", "2", "delivered", "200"],
        ["ops", "job", "down", "1", "retry", "503"],
    ]
    assert rows[-1].startswith("2026-12-01 03:00:01")
    assert rows[-1].endswith(f"HTTP 503 from {TOKEN_URL}: busy")

    only = await tocsin(env, "deliveries", "--channel", "ops", "--monitor", "job", "--limit", "1")
    assert [row.split()[2:8] for row in only.stdout.splitlines()[1:]] == [
        ["ops", "job", "down", "2", "delivered", "200"]
    ]
    whole = json.loads((await tocsin(env, "deliveries", "--json", "--monitor", "web")).stdout)
    assert [d["error"] for d in whole] == [f"HTTP 401: signature {SECRET} refused"]
    missing = await tocsin(env, "deliveries", "--channel", "nope")
    assert (missing.exit_code, missing.stdout) == (2, "")
    assert "no channel 'nope'" in missing.stderr


async def test_channel_list_locally_shows_each_channels_newest_attempt(
    db: Database, env: Env
) -> None:
    await _history(db)
    await _channel(db, name="quiet", kind="webhook", url="http://127.0.0.1:9/hook")
    listed = await tocsin(env, "channel", "list")
    assert listed.exit_code == 0, listed.output
    assert [re.split(r"\s{2,}", line) for line in listed.stdout.splitlines()] == [
        ["NAME", "KIND", "DESTINATION", "LAST ATTEMPT (UTC)"],
        ["mail", "email", "a@b.io", "delivered 2026-12-01 03:00:01, SMTP 250"],
        [
            "ops",
            "webhook",
            TOKEN_URL,
            f"failed 2026-12-01 03:00:01: HTTP 401: signature {SECRET} refused",
        ],
        ["quiet", "webhook", "http://127.0.0.1:9/hook", "-"],
    ]
    whole = json.loads((await tocsin(env, "channel", "list", "--json")).stdout)
    assert [c["last_attempt"] and c["last_attempt"]["outcome"] for c in whole] == [
        "delivered",
        "failed",
        None,
    ]


async def test_channel_test_and_deliveries_through_a_server(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        receiver() as hook,
        live_server(database_url, tmp_path / "server") as server,
    ):
        await _history(server.database)
        await server.create_channel(name="hook", kind="webhook", url=hook.url)
        remote: Env = {
            "TOCSIN_URL": server.base_url,
            "TOCSIN_API_KEY": await key(server, ApiKeyScope.WRITE),
            # Must not be used in remote mode: a local database that does not exist.
            "TOCSIN_DATABASE_URL": f"sqlite:///{tmp_path}/unused/nothing.db",
        }
        tested = await tocsin(remote, "channel", "test", "hook", "--json")
        reader = remote | {"TOCSIN_API_KEY": await key(server, ApiKeyScope.READ)}
        refused = await tocsin(reader, "channel", "test", "hook")
        read = await tocsin(reader, "deliveries", "--json", "--channel", "ops")
        listed = await tocsin(reader, "channel", "list")
    assert tested.exit_code == 0, tested.output
    answer = json.loads(tested.stdout)
    assert (answer["channel"], answer["outcome"], answer["status"]) == ("hook", "delivered", 200)
    assert len(hook.requests) == 1
    assert refused.exit_code == 2
    assert "read-only" in refused.stderr
    assert read.exit_code == 0, read.output
    errors = [d["error"] for d in json.loads(read.stdout)]
    assert errors == [
        "HTTP 401: signature ******** refused",
        None,
        "HTTP 503 from http://127.0.0.1:9/********: busy",
    ]
    hook_url = f"http://127.0.0.1:{hook.url.split(':')[2].split('/')[0]}/********"
    assert [re.split(r"\s{2,}", line) for line in listed.stdout.splitlines()] == [
        ["NAME", "KIND", "DESTINATION", "LAST ATTEMPT (UTC)"],
        ["hook", "webhook", hook_url, "-"],
        ["mail", "email", "a@b.io", "delivered 2026-12-01 03:00:01, SMTP 250"],
        [
            "ops",
            "webhook",
            "http://127.0.0.1:9/********",
            "failed 2026-12-01 03:00:01: HTTP 401: signature ******** refused",
        ],
    ]
