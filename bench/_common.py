"""Shared pieces of the benchmarks: a server subprocess, a scratch database, percentiles."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.engine import Connection  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

from tocsin.server.domain.spec import MonitorSpec, channel_spec, monitor_spec  # noqa: E402
from tocsin.server.domain.states import ManagedBy  # noqa: E402
from tocsin.server.storage.channels import create_channel  # noqa: E402
from tocsin.server.storage.database import Database  # noqa: E402
from tocsin.server.storage.monitors import insert_monitor  # noqa: E402
from tocsin.server.storage.projects import default_project  # noqa: E402
from tocsin.server.storage.tables import channels, monitor_channels  # noqa: E402

POSTGRES_ADMIN = os.environ.get(
    "TOCSIN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def serving_script(script: str, timeout: float = 10.0) -> Iterator[int]:
    """Run ``script --serve PORT`` (a bench's own local target or receiver) in a
    subprocess on a free port of 127.0.0.1; yield the port once it accepts connections,
    and stop the process afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen([sys.executable, script, "--serve", str(port)])
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{script} --serve did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def start_py_spy(pid: int, seconds: float, path: str) -> subprocess.Popen[bytes]:
    """Record ``pid`` with py-spy for ``seconds`` into ``path`` (200 Hz, GIL holders only,
    raw format for flame graphs); ``pip install py-spy`` first. Wait on the result."""
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [found, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200"]
    command += ["-f", "raw", "-o", path, "--nonblocking", "--gil"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


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


async def time_pages(
    client: httpx.AsyncClient, pages: Mapping[str, str], rounds: int, width: int
) -> None:
    """GET each of ``pages`` (label → path) ``rounds`` times after one warm-up request
    (templates compile on first use) and print wall and CPU p50/p95 per page."""
    for name, path in pages.items():
        await client.get(path)
        walls, cpus = [], []
        for _ in range(rounds):
            began, began_cpu = time.perf_counter(), time.process_time()
            answer = await client.get(path)
            walls.append((time.perf_counter() - began) * 1000)
            cpus.append((time.process_time() - began_cpu) * 1000)
            assert answer.status_code == 200, (path, answer.status_code)
        print(f"  {name:{width}} wall p50 {percentile(walls, 0.5):6.1f} ms"
              f"  p95 {percentile(walls, 0.95):6.1f} ms"
              f"   cpu p50 {percentile(cpus, 0.5):6.1f} ms"
              f"  p95 {percentile(cpus, 0.95):6.1f} ms")  # fmt: skip


async def add_webhook_channels(database_url: str, urls: Mapping[str, str]) -> None:
    """Create a webhook channel per ``name: url`` in the default project."""
    database = Database(database_url)
    try:
        async with database.write() as conn:
            project = await default_project(conn)
            for name, url in urls.items():
                spec = channel_spec({"name": name, "kind": "webhook", "url": url})
                await create_channel(conn, project.id, spec, datetime.now(UTC))
    finally:
        await database.dispose()


async def create_monitors(
    database_url: str, count: int, prefix: str = "bench", **fields: object
) -> list[str]:
    """Create ``count`` heartbeat monitors named ``<prefix>-<i>``; return their uuids."""
    specs = [monitor_spec({"name": f"{prefix}-{i}", **fields}) for i in range(count)]
    database = Database(database_url)
    try:
        async with database.read() as conn:
            project = await default_project(conn)
        return await database.run_write(_insert_monitors, project.id, specs, datetime.now(UTC))
    finally:
        await database.dispose()


def _insert_monitors(
    conn: Connection, project_id: int, specs: list[MonitorSpec], now: datetime
) -> list[str]:
    """Insert monitors and their channel links in one synchronous transaction: the API's
    ``create_monitor`` costs several round trips per monitor, minutes for 10,000."""
    wanted = sorted({name for spec in specs for name in spec.channels})
    channel_ids = dict(
        conn.execute(
            select(channels.c.name, channels.c.id).where(
                channels.c.project_id == project_id, channels.c.name.in_(wanted)
            )
        ).all()
    )
    uuids: list[str] = []
    links: list[dict[str, int]] = []
    for spec in specs:
        record = insert_monitor(
            conn, project_id, spec, now, managed_by=ManagedBy.API, max_monitors=None
        )
        uuids.append(record.uuid)
        links += [{"monitor_id": record.id, "channel_id": channel_ids[n]} for n in spec.channels]
    if links:
        conn.execute(insert(monitor_channels), links)
    return uuids


def run(coro: object) -> object:
    """``asyncio.run`` with uvloop when it is installed."""
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]


__all__ = [
    "ServerProcess",
    "add_webhook_channels",
    "create_monitors",
    "percentile",
    "run",
    "scratch_postgres",
    "serving_script",
]
