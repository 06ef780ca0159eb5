"""`tocsin apply` and `tocsin status` on the local database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import free_port
from tocsin.cli import cli
from tocsin.cli.status import ago, render_table, until
from tocsin.server.config.target import shown_database_url

CONFIG = """\
channels:
  - name: ops
    kind: webhook
    url: ${HOOK_URL:-http://127.0.0.1:9999/hook}
monitors:
  - name: nightly-backup
    kind: heartbeat
    period: 1d
    grace: 1h
    channels: [ops]
  - name: invoice-cron
    kind: heartbeat
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    grace: 30m
    channels: [ops]
"""


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str | None]:
    """The environment of a CLI run on the test database, without a remote server."""
    return {
        "TOCSIN_DATABASE_URL": database_url,
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_BASE_URL": "https://tocsin.example.com",
        # No server listens there: nothing to compare the database with.
        "TOCSIN_PORT": str(free_port()),
        "TOCSIN_URL": None,
        "TOCSIN_API_KEY": None,
        "HOOK_URL": None,
    }


def tocsin(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tocsin.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_apply_is_idempotent_and_prints_changes(env: dict[str, str | None], tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG)
    first = tocsin(env, "apply", "-f", path)
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[:4] == [
        "+ channel ops (webhook)",
        "+ monitor nightly-backup (heartbeat, period 1d, grace 1h, channels [ops])",
        "+ monitor invoice-cron (heartbeat, cron '0 3 * * *' Europe/Berlin, grace 30m, "
        "channels [ops])",
        "3 created, 0 changed, 0 deleted",
    ]
    assert lines[4].startswith("ping URL of nightly-backup: https://tocsin.example.com/ping/")

    second = tocsin(env, "apply", "-f", path)
    assert (second.exit_code, second.stdout) == (0, "no changes\n")

    write(tmp_path, CONFIG.replace("period: 1d", "period: 2h"))
    dry = tocsin(env, "apply", "-f", path, "--dry-run")
    assert dry.stdout.splitlines() == [
        "~ monitor nightly-backup: period 1d → 2h",
        "would create 0, change 1, delete 0 (dry run: nothing applied)",
    ]
    changed = tocsin(env, "apply", "-f", path)
    assert changed.stdout.splitlines() == [
        "~ monitor nightly-backup: period 1d → 2h",
        "0 created, 1 changed, 0 deleted",
    ]

    write(tmp_path, CONFIG.replace("period: 1d", "period: 2h").split("  - name: invoice-cron")[0])
    kept = tocsin(env, "apply", "-f", path)
    assert kept.stdout.splitlines() == [
        "no changes",
        "1 not in the file and kept (monitor invoice-cron); --prune would delete them",
    ]
    pruned = tocsin(env, "apply", "-f", path, "--prune")
    assert pruned.stdout.splitlines() == [
        "- monitor invoice-cron",
        "0 created, 0 changed, 1 deleted",
    ]


def test_status_table_and_json(env: dict[str, str | None], tmp_path: Path) -> None:
    empty = tocsin(env, "status")
    assert empty.exit_code == 0, empty.output
    assert "no monitors yet" in empty.stdout
    assert tocsin(env, "apply", "-f", write(tmp_path, CONFIG)).exit_code == 0

    table = tocsin(env, "status")
    header, *rows = table.stdout.splitlines()
    assert header.split() == [
        "NAME",
        "KIND",
        "STATE",
        "LAST",
        "PING",
        "LATE",
        "AFTER",
        "DOWN",
        "AFTER",
        "PING",
        "URL",
    ]
    assert [row.split()[:5] for row in rows] == [
        ["invoice-cron", "heartbeat", "new", "never", "-"],
        ["nightly-backup", "heartbeat", "new", "never", "-"],
    ]
    assert all("https://tocsin.example.com/ping/" in row for row in rows)

    data = json.loads(tocsin(env, "status", "--json").stdout)
    assert [(m["name"], m["kind"], m["state"]) for m in data] == [
        ("invoice-cron", "heartbeat", "new"),
        ("nightly-backup", "heartbeat", "new"),
    ]
    assert all(m["ping_url"] == f"https://tocsin.example.com/ping/{m['uuid']}" for m in data)
    assert data[1]["channels"] == ["ops"] and data[1]["managed_by"] == "config"


BROKEN = """\
monitors:
  - name: a
    period: 5 minutes
  - name: b
    grace: -1
    channels: [nowhere]
"""


def test_a_broken_file_lists_every_problem_and_applies_nothing(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    path = write(tmp_path, BROKEN)
    result = tocsin(env, "apply", "-f", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"tocsin: using database {shown_database_url(str(env['TOCSIN_DATABASE_URL']))}",
        f"error: {path}:3: monitors[0] (a).period: '5 minutes' is not a duration; "
        "use seconds or 30s, 5m, 2h, 1d, 1w",
        f"error: {path}:5: monitors[1] (b).grace: a duration must be longer than 0 seconds",
        f"error: {path}:6: monitors[1] (b).channels[0]: no channel named 'nowhere' in this "
        "file or on the server",
    ]
    assert json.loads(tocsin(env, "status", "--json").stdout) == []


def test_env_substitution_and_unset_variable(env: dict[str, str | None], tmp_path: Path) -> None:
    text = "channels:\n  - name: ops\n    kind: webhook\n    url: ${HOOK}\n"
    path = write(tmp_path, text)
    unset = tocsin(env | {"HOOK": None}, "apply", "-f", path)
    assert unset.exit_code == 2
    assert "environment variable HOOK is not set" in unset.stderr
    applied = tocsin(env | {"HOOK": "http://hooks.test/x"}, "apply", "-f", path)
    assert applied.exit_code == 0, applied.output
    changed = tocsin(env | {"HOOK": "http://hooks.test/y"}, "apply", "-f", path)
    # The URL may hold a secret: the change is reported without its value.
    assert changed.stdout.splitlines()[0] == "~ channel ops: url changed"


def test_the_file_can_come_from_stdin(env: dict[str, str | None]) -> None:
    text = "monitors:\n  - name: piped\n    period: 5m\n    grace: bad\n"
    result = CliRunner().invoke(cli, ["apply", "-f", "-"], env=env, input=text)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1].startswith("error: <stdin>:4: monitors[0] (piped).grace: ")
    fixed = text.replace("bad", "1m")
    result = CliRunner().invoke(cli, ["apply", "-f", "-"], env=env, input=fixed)
    assert result.stdout.startswith("+ monitor piped (heartbeat, period 5m, grace 1m)\n")


def test_yaml_syntax_error_and_missing_file(env: dict[str, str | None], tmp_path: Path) -> None:
    path = write(tmp_path, "monitors:\n  - name: a\n   period: 1d\n")
    result = tocsin(env, "apply", "-f", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:3: not valid YAML")
    missing = tocsin(env, "apply", "-f", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2
    assert "cannot read the file" in missing.stderr


def test_url_without_a_key_is_a_clear_error(tmp_path: Path) -> None:
    env = {"TOCSIN_API_KEY": None, "TOCSIN_URL": None}
    result = CliRunner().invoke(
        cli, ["status", "--url", "http://127.0.0.1:1"], env=env | {"TOCSIN_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "needs an API key: set TOCSIN_API_KEY" in result.stderr
    port = free_port()
    unreachable = CliRunner().invoke(
        cli, ["status", "--url", f"http://127.0.0.1:{port}"], env=env | {"TOCSIN_API_KEY": "k"}
    )
    assert unreachable.exit_code == 2
    assert unreachable.stderr == (
        f"tocsin: using server http://127.0.0.1:{port}\n"
        f"error: cannot reach the server at http://127.0.0.1:{port}: "
        "ConnectError: All connection attempts failed\n"
    )


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(None, "never", id="never"),
        pytest.param((NOW - timedelta(seconds=42)).isoformat(), "42s ago", id="seconds"),
        pytest.param((NOW - timedelta(minutes=3, seconds=5)).isoformat(), "3m ago", id="minutes"),
        pytest.param((NOW - timedelta(days=2, hours=1)).isoformat(), "2d ago", id="days"),
    ],
)
def test_last_ping_is_relative(value: str | None, text: str) -> None:
    assert ago(value, NOW) == text


def test_next_deadline_is_relative() -> None:
    assert until(None, NOW) == "-"
    assert until((NOW + timedelta(hours=5)).isoformat(), NOW) == "in 5h"
    assert until((NOW - timedelta(minutes=2)).isoformat(), NOW) == "2m ago (overdue)"


def test_table_columns_line_up() -> None:
    rows = render_table(
        [
            {"name": "a", "kind": "heartbeat", "state": "up", "ping_url": "http://x/ping/1"},
            {"name": "longer-name", "kind": "heartbeat", "state": "down", "ping_url": "u"},
        ],
        NOW,
    )
    assert [row.index("heartbeat") for row in rows[1:]] == [13, 13]


def _row(state: str, next_deadline: datetime | None) -> dict[str, object]:
    return {
        "name": f"job-{state}",
        "kind": "heartbeat",
        "state": state,
        "last_ping_at": None,
        "next_deadline": next_deadline.isoformat() if next_deadline else None,
        "grace_seconds": 3600.0,
        "ping_url": "u",
    }


def test_status_shows_when_a_monitor_is_late_and_when_it_goes_down() -> None:
    rows = render_table(
        [
            # up: the deadline is when grace starts; down comes a grace time (1h) later
            _row("up", NOW + timedelta(minutes=5)),
            # grace: the deadline is when it goes down; it became late 1h before
            _row("grace", NOW + timedelta(minutes=20)),
            # started: down when the run has not ended within grace of its start
            _row("started", NOW + timedelta(minutes=30)),
            _row("down", None),
            _row("new", None),
        ],
        NOW,
    )
    header, *cells = (row.split("  ") for row in rows)
    columns = [cell.strip() for cell in header if cell.strip()]
    assert columns == ["NAME", "KIND", "STATE", "LAST PING", "LATE AFTER", "DOWN AFTER", "PING URL"]
    late_down = {row[0]: [cell.strip() for cell in row if cell.strip()][4:6] for row in cells}
    assert late_down == {
        "job-up": ["in 5m", "in 1h"],
        "job-grace": ["40m ago", "in 20m"],
        "job-started": ["-", "in 30m"],
        "job-down": ["-", "-"],
        "job-new": ["-", "-"],
    }
