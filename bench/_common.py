"""Shared pieces of the benchmarks: a server subprocess, a scratch database, percentiles."""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server_process import ServerProcess  # noqa: E402

from tocsin.server.domain.spec import monitor_spec  # noqa: E402
from tocsin.server.storage.database import Database  # noqa: E402
from tocsin.server.storage.monitors import create_monitor  # noqa: E402
from tocsin.server.storage.projects import default_project  # noqa: E402

POSTGRES_ADMIN = os.environ.get(
    "TOCSIN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[min(int(q * 1000), 999) - 1]


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL database URL."""
    name = f"tocsin_bench_{secrets.token_hex(4)}"
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    subprocess.run(["psql", POSTGRES_ADMIN, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield f"{base}/{name}"
    finally:
        subprocess.run(
            ["psql", POSTGRES_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=True,
        )


async def create_monitors(
    database_url: str, count: int, prefix: str = "bench", **fields: object
) -> list[str]:
    """Create ``count`` heartbeat monitors named ``<prefix>-<i>``; return their uuids."""
    database = Database(database_url)
    uuids: list[str] = []
    try:
        async with database.write() as conn:
            project = await default_project(conn)
            now = datetime.now(UTC)
            for i in range(count):
                spec = monitor_spec({"name": f"{prefix}-{i}", **fields})
                uuids.append((await create_monitor(conn, project.id, spec, now)).uuid)
    finally:
        await database.dispose()
    return uuids


def run(coro: object) -> object:
    """``asyncio.run`` with uvloop when it is installed."""
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]


__all__ = ["ServerProcess", "create_monitors", "percentile", "run", "scratch_postgres"]
