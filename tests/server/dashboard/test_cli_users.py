"""`tocsin user`: users made on the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.server.dashboard.conftest import PASSWORD, empty_users
from tocsin.cli import cli


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    asyncio.run(empty_users(database_url))
    yield {"TOCSIN_DATA_DIR": str(tmp_path), "TOCSIN_DATABASE_URL": database_url}
    asyncio.run(empty_users(database_url))


def run(args: list[str], env: dict[str, str], stdin: str = "") -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_create_list_delete(env: dict[str, str]) -> None:
    code, out, err = run(["user", "create", "root", "--role", "admin"], env, PASSWORD + "\n")
    assert code == 0, err
    assert "created admin user root" in out
    assert run(["user", "create", "eve"], env, PASSWORD + "\n")[0] == 0

    code, listing, _ = run(["user", "list", "--json"], env)
    users = json.loads(listing)["users"]
    assert [(u["username"], u["role"]) for u in users] == [("eve", "read-only"), ("root", "admin")]
    assert PASSWORD not in listing and "argon2" not in listing

    assert run(["user", "delete", "eve"], env)[0] == 0
    code, listing, _ = run(["user", "list"], env)
    assert [line.split()[0] for line in listing.splitlines()] == ["root"]


def test_refusals_are_clear(env: dict[str, str]) -> None:
    code, _, err = run(["user", "create", "root"], env, "short\n")
    assert code == 2 and "at least 10 characters" in err
    code, _, err = run(["user", "create", "no spaces"], env, PASSWORD + "\n")
    assert code == 2 and "letters, digits" in err
    assert run(["user", "create", "root"], env, PASSWORD + "\n")[0] == 0
    code, _, err = run(["user", "create", "root"], env, PASSWORD + "\n")
    assert code == 2 and "exists already" in err
    code, _, err = run(["user", "delete", "ghost"], env)
    assert code == 2 and "no user 'ghost'" in err
