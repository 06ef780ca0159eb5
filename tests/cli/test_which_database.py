"""`apply` and `status` say which database or server they act on, and local ones warn when
the server on the configured port uses another database (asked through ``/api/v1/info``).

A real server (uvicorn in the test's event loop) and the CLI in a worker thread.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from click.testing import CliRunner, Result

from tests.server.live import live_server
from tocsin import __version__
from tocsin.cli import cli
from tocsin.server.config.target import shown_database_url

CONFIG = "monitors:\n  - name: nightly-backup\n    period: 1d\n"


async def tocsin(env: dict[str, str | None], *args: str) -> Result:
    """Run a CLI command in a thread (it starts its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


def with_password(url: str) -> str:
    """``url`` with a password (PostgreSQL's trust authentication ignores it)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:s3cret-pw@{host}"


async def test_local_commands_name_their_database_and_warn_when_the_server_uses_another(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    kind = database_url.split(":", 1)[0]
    async with live_server(database_url, tmp_path / "server") as server:
        port = server.settings.port
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            info = await client.get("/api/v1/info")  # no key
        assert info.status_code == 200, info.text
        assert info.json() == {
            "version": __version__,
            "database": {"kind": kind, "fingerprint": info.json()["database"]["fingerprint"]},
        }
        env: dict[str, str | None] = {
            "TOCSIN_HOST": "127.0.0.1",
            "TOCSIN_PORT": str(port),
            "TOCSIN_BASE_URL": server.base_url,
            "TOCSIN_DATA_DIR": str(tmp_path / "cli"),
            "TOCSIN_DATABASE_URL": None,  # the data directory's SQLite file, as in the report
            "TOCSIN_URL": None,
            "TOCSIN_API_KEY": None,
        }
        other = f"sqlite:///{tmp_path / 'cli' / 'tocsin.db'}"
        applied = await tocsin(env, "apply", "-f", str(path))
        assert applied.exit_code == 0, applied.output
        assert applied.stderr.splitlines() == [
            f"tocsin: using database {other}",
            f"tocsin: warning: the tocsin server at http://127.0.0.1:{port} uses another "
            f"database ({kind}): what this command shows or changes is not what it serves; "
            "set TOCSIN_DATABASE_URL as the server has it, or use --url "
            f"http://127.0.0.1:{port} with an API key",
        ]
        assert await server.monitors() == []  # went to the other database, as warned

        same_url = with_password(database_url) if kind == "postgresql" else database_url
        same = await tocsin(env | {"TOCSIN_DATABASE_URL": same_url}, "status")
        assert same.exit_code == 0, same.output
        assert same.stderr.splitlines() == [
            f"tocsin: using database {shown(same_url)}",
            f"tocsin: slug ping URLs: {server.base_url}/ping/{await server.ping_key()}/<slug>",
        ]
        assert "s3cret-pw" not in same.output


def shown(url: str) -> str:
    return url.replace(":s3cret-pw@", ":***@")


def test_a_password_in_the_database_url_is_never_shown(tmp_path: Path) -> None:
    assert (
        shown_database_url("postgresql://tocsin:hunter2@db.internal:5432/tocsin")
        == "postgresql://tocsin:***@db.internal:5432/tocsin"
    )
    assert shown_database_url("sqlite:///tocsin.db").startswith("sqlite:////")  # made absolute
    assert shown_database_url(f"sqlite:///{tmp_path}/a.db") == f"sqlite:///{tmp_path}/a.db"


def test_a_local_command_with_no_server_listening_only_names_its_database(tmp_path: Path) -> None:
    from tests.conftest import free_port

    env: dict[str, str | None] = {
        "TOCSIN_DATA_DIR": str(tmp_path),
        "TOCSIN_PORT": str(free_port()),
        "TOCSIN_DATABASE_URL": None,
        "TOCSIN_URL": None,
        "TOCSIN_API_KEY": None,
    }
    result = CliRunner().invoke(cli, ["status"], env=env)
    assert result.exit_code == 0, result.output
    database_line, slug_line = result.stderr.splitlines()  # no warning
    assert database_line == f"tocsin: using database sqlite:///{tmp_path / 'tocsin.db'}"
    assert slug_line.startswith("tocsin: slug ping URLs: http://")
