"""A SQLite server whose database file is deleted or replaced stops acknowledging pings.

Before, ``rm -rf`` of the data directory left the server answering ``200 OK`` while it
wrote into a deleted file: every one of those pings was gone after a restart.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess

LOST_LOG = "database file lost"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose SQLite file sits in ``tmp_path/data``; its log stays outside it."""
    database = tmp_path / "data" / "tocsin.db"
    process = ServerProcess(tmp_path, f"sqlite:///{database}", TOCSIN_LOG_LEVEL="INFO")
    process.start()
    try:
        yield process
    finally:
        process.stop()
        process.kill()


def _assert_refuses_writes(server: ServerProcess, url: str, database: Path) -> None:
    for _ in range(3):
        answer = httpx.get(url, timeout=10)
        assert answer.status_code == 503, answer.text
    ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith("application/health+json")
    body = ready.json()
    assert body["status"] == "fail"
    assert body["checks"]["database:writable"][0]["status"] == "fail"
    assert str(database) in body["checks"]["database:writable"][0]["output"]
    # The process cannot get its data back: liveness fails too, so it gets restarted.
    assert httpx.get(f"{server.base_url}/livez", timeout=10).status_code == 503
    log = server.log()
    assert log.count(LOST_LOG) == 1, log
    assert str(database) in log


@pytest.mark.slow
def test_deleted_data_directory_answers_503_and_fails_readiness(
    server: ServerProcess, tmp_path: Path
) -> None:
    url = server.create_heartbeat_monitor("nightly", 60, 60)
    assert httpx.get(url).text == "OK"
    assert httpx.get(f"{server.base_url}/readyz").status_code == 200

    shutil.rmtree(tmp_path / "data")

    _assert_refuses_writes(server, url, tmp_path / "data" / "tocsin.db")


@pytest.mark.slow
def test_replaced_database_file_answers_503_and_fails_readiness(
    server: ServerProcess, tmp_path: Path
) -> None:
    url = server.create_heartbeat_monitor("nightly", 60, 60)
    assert httpx.get(url).text == "OK"
    database = tmp_path / "data" / "tocsin.db"
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in (tmp_path / "data").iterdir():
        path.rename(moved / path.name)
    shutil.copyfile(moved / "tocsin.db", database)  # a different file at the same path

    _assert_refuses_writes(server, url, database)
