"""`tocsin status` for probed monitors: state, confirmation, the last result and, for app
monitors, each component with its value; `-v` adds every assertion's outcome, `--json` has
all of it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import free_port
from tests.server.results_data import (
    APP,
    HTTP,
    add_monitor,
    add_results,
    outcome,
    reading,
    result,
    set_components,
    set_state,
)
from tocsin.cli import cli
from tocsin.server.storage.database import Database

NOW = datetime.now(UTC)

CHECKED = {**HTTP, "assert": ["status == 200", "response_time < 1s", 'body contains "pong" [warn]']}
OUTCOMES = [
    outcome(False, 503),
    {
        "text": "response_time < 1s",
        "severity": "fail",
        "passed": True,
        "resolved": 812.0,
        "message": "response_time (812 ms) < 1s",
    },
    {
        "text": 'body contains "pong" [warn]',
        "severity": "warn",
        "passed": False,
        "resolved": "busy",
        "message": 'body ("busy") contains "pong"',
    },
]


async def _record(database_url: str) -> None:
    db = Database(database_url)
    try:
        api = await add_monitor(db, CHECKED)
        shop = await add_monitor(db, APP)
        checked = result(api.id, NOW - timedelta(minutes=1), "fail", 812.0)
        await add_results(db, [checked._replace(outcomes=OUTCOMES)])
        await set_state(db, api, "up", 1, 0, NOW - timedelta(minutes=1))
        workers = reading("rq:workers[emails]", "fail", 0)
        await add_results(db, [result(shop.id, NOW, "fail", 20.0, components=[workers])])
        await set_state(db, shop, "down", 2, 0, NOW)
        await set_components(
            db, shop, {"rq:workers[emails]": ("fail", 0), "rq:queue_depth": ("pass", 12)}, NOW
        )
    finally:
        await db.dispose()


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str | None]:
    """A CLI environment on the test database with two probed monitors recorded."""
    asyncio.run(_record(database_url))
    return {
        "TOCSIN_DATABASE_URL": database_url,
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_PORT": str(free_port()),
        "TOCSIN_URL": None,
        "TOCSIN_API_KEY": None,
    }


def test_status_shows_probes_with_their_last_result_and_components(
    env: dict[str, str | None],
) -> None:
    shown = CliRunner().invoke(cli, ["status"], env=env)
    assert shown.exit_code == 0, shown.output
    header, api, shop, *components = shown.stdout.splitlines()
    assert header.split()[:5] == ["NAME", "KIND", "STATE", "CONFIRM", "LAST"]
    assert api.split()[:5] == ["api", "http", "up", "failing", "1/2"]
    assert "http://127.0.0.1:9/ping" in api
    # The failed assertions only; -v shows every outcome.
    assert api.endswith('fail: status (503) == 200; body ("busy") contains "pong" (812 ms)')
    assert shop.split()[:4] == ["shop-app", "app", "down", "-"]
    assert shop.endswith("fail: status (503) == 200; rq:workers[emails] = 0 (< 1) (20 ms)")
    assert [line.split()[:3] for line in components] == [
        ["rq:queue_depth", "pass", "12"],
        ["rq:workers[emails]", "fail", "0"],
    ]


def test_status_verbose_shows_every_assertion_outcome(env: dict[str, str | None]) -> None:
    shown = CliRunner().invoke(cli, ["status", "-v"], env=env)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[1].startswith("api ")
    assert lines[2:5] == [
        "    ✗ status (503) == 200",
        "    ✓ response_time (812 ms) < 1s",
        '    ! body ("busy") contains "pong"',
    ]
    assert lines[5].startswith("shop-app ")
    # The app monitor's outcomes, then its components as without -v.
    assert lines[6] == "    ✗ status (503) == 200"
    assert [line.split()[:2] for line in lines[7:]] == [
        ["rq:queue_depth", "pass"],
        ["rq:workers[emails]", "fail"],
    ]
    # The long flag says the same (the rows' "ago" may have moved on by a second).
    verbose = CliRunner().invoke(cli, ["status", "--verbose"], env=env).stdout.splitlines()
    assert verbose[2:5] + verbose[6:7] == lines[2:5] + lines[6:7]


def test_status_json_has_every_probe_detail(env: dict[str, str | None]) -> None:
    shown = CliRunner().invoke(cli, ["status", "--json"], env=env)
    data = {m["name"]: m for m in json.loads(shown.stdout)}
    assert data["api"]["confirmation"] == "failing 1/2"
    assert data["api"]["last_result"]["outcomes"][0]["resolved"] == 503
    assert data["api"]["probe"]["headers"] == {"Authorization": "Bearer ${API_TOKEN}"}
    assert [c["key"] for c in data["shop-app"]["components"]] == [
        "rq:queue_depth",
        "rq:workers[emails]",
    ]
