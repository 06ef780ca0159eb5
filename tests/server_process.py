"""A real ``tocsin server`` subprocess for end-to-end tests (the server as users run it).

    with start_server(tmp_path) as server:
        url = server.create_heartbeat_monitor("nightly", period_seconds=60, grace_seconds=5)
        ...
        server.pings(url)  # what the server stored

The helper methods are synchronous (they run their own event loop); call them from sync
tests or through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, wait_for_port


class ServerProcess:
    """One server subprocess on 127.0.0.1 and its database."""

    def __init__(self, data_dir: Path, database_url: str | None = None, **env: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url or f"sqlite:///{data_dir / 'tocsin.db'}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self.env = {
            **os.environ,
            "TOCSIN_DATA_DIR": str(data_dir),
            "TOCSIN_DATABASE_URL": self.database_url,
            "TOCSIN_HOST": "127.0.0.1",
            "TOCSIN_PORT": str(self.port),
            "TOCSIN_LOG_LEVEL": "WARNING",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it answers."""
        data_dir = self.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tocsin", "server"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port(self.port, timeout)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{self.base_url}/livez", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            raise TimeoutError("server did not become ready")
        except BaseException:
            self.kill()
            raise RuntimeError(f"server failed to start:\n{self.log()}") from None

    def log(self) -> str:
        """What the server printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), killing it if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def _run(self, coro: Any) -> Any:
        return asyncio.run(coro)

    def create_heartbeat_monitor(
        self, name: str, period_seconds: float, grace_seconds: float, **fields: Any
    ) -> str:
        """Create a heartbeat monitor in the server's database; return its ping URL."""
        from tocsin.server.domain.spec import monitor_spec
        from tocsin.server.storage.database import Database
        from tocsin.server.storage.monitors import create_monitor
        from tocsin.server.storage.projects import default_project

        spec = monitor_spec(
            {"name": name, "period": period_seconds, "grace": grace_seconds, **fields}
        )

        async def create() -> str:
            database = Database(self.database_url)
            try:
                async with database.write() as conn:
                    project = await default_project(conn)
                    record = await create_monitor(conn, project.id, spec, datetime.now(UTC))
            finally:
                await database.dispose()
            return f"{self.base_url}/ping/{record.uuid}"

        result: str = self._run(create())
        return result

    def pings(self, ping_url: str) -> list[dict[str, Any]]:
        """Stored pings of the monitor behind ``ping_url``, oldest first."""
        from tocsin.server.storage.database import Database
        from tocsin.server.storage.monitors import get_monitor
        from tocsin.server.storage.pings import list_pings
        from tocsin.server.storage.projects import default_project
        from tocsin.server.storage.shapes import PingOut, as_json

        key = ping_url.rstrip("/").split("/ping/", 1)[1].split("/")[0]

        async def read() -> list[dict[str, Any]]:
            database = Database(self.database_url)
            try:
                async with database.read() as conn:
                    project = await default_project(conn)
                    record = await get_monitor(conn, project.id, key)
                    rows = await list_pings(conn, record.id, 100_000)
            finally:
                await database.dispose()
            return [as_json(PingOut.of(row)) for row in reversed(rows)]

        result: list[dict[str, Any]] = self._run(read())
        return result


@contextmanager
def start_server(
    data_dir: Path, database_url: str | None = None, **env: str
) -> Iterator[ServerProcess]:
    """Run a server subprocess for the duration of the block."""
    server = ServerProcess(data_dir, database_url, **env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.kill()
