"""SQLWriteCheck in every mode, several runs, on SQLite and PostgreSQL: what stays behind."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.health.procs import entry
from tocsin.health import HealthChecker
from tocsin.health.checks.sql import SQLWriteCheck, WriteMode

RUNS = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on an empty database: a SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
        yield engine
        engine.dispose()
        return
    url = request.getfixturevalue("postgres_url").replace("postgresql://", "postgresql+psycopg://")
    schema = f"probe_{secrets.token_hex(4)}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine = sa.create_engine(url, connect_args={"options": f"-c search_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def tables(engine: sa.Engine) -> list[str]:
    """The tables a new session sees in the database (its schema on PostgreSQL)."""
    with engine.connect() as conn:
        return sorted(sa.inspect(conn).get_table_names())


def write(check: SQLWriteCheck) -> dict[str, object]:
    return entry(HealthChecker([check], ttl=0).run().to_json(), "database:write_latency")


@pytest.mark.parametrize("mode", list(WriteMode))
def test_every_mode_passes_run_after_run(engine: sa.Engine, mode: WriteMode) -> None:
    check = SQLWriteCheck(engine, mode=mode)
    outcomes = [write(check) for _ in range(RUNS)]
    assert [(o["status"], o["output"]) for o in outcomes] == [
        ("pass", f"{mode.value} write ok")
    ] * RUNS


def test_rollback_mode_leaves_nothing_behind(engine: sa.Engine) -> None:
    check = SQLWriteCheck(engine)
    for _ in range(RUNS):
        write(check)
    assert tables(engine) == []


def test_table_mode_leaves_one_table_with_one_row(engine: sa.Engine) -> None:
    check = SQLWriteCheck(engine, mode="table")
    for _ in range(RUNS):
        write(check)
    assert tables(engine) == ["tocsin_health_probe"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tocsin_health_probe")).scalar() == 1


def test_rollback_mode_on_sqlite_passes_over_a_table_an_earlier_version_left(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE tocsin_health_probe_tmp (x INTEGER)"))
    check = SQLWriteCheck(url)
    assert [write(check)["status"] for _ in range(2)] == ["pass", "pass"]
    with check.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tocsin_health_probe_tmp")).scalar() == 0
