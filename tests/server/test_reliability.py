"""kill -9 in the middle of a ping storm loses no acknowledged ping (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import empty_database
from tests.server_process import ServerProcess

CLIENTS = 32


async def _storm(urls: list[str], acked: list[tuple[str, str]], stop: threading.Event) -> None:
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(timeout=5, limits=limits) as http:
        await asyncio.gather(*(_client(http, i, urls, acked, stop) for i in range(CLIENTS)))


async def _client(
    http: httpx.AsyncClient,
    index: int,
    urls: list[str],
    acked: list[tuple[str, str]],
    stop: threading.Event,
) -> None:
    n = 0
    while not stop.is_set():
        url = urls[(index + n) % len(urls)]
        body = f"client {index} ping {n}"
        n += 1
        try:
            response = await http.post(url, content=body)
        except httpx.HTTPError:
            await asyncio.sleep(0.05)
            continue
        if response.status_code == 200:
            acked.append((url, body))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_acknowledged_pings_survive_kill_9(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database_url = None
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
    server = ServerProcess(tmp_path, database_url)
    server.start()
    try:
        urls = [server.create_heartbeat_monitor(f"job-{i}", 60, 60) for i in range(20)]
        acked: list[tuple[str, str]] = []
        stop = threading.Event()
        storm = threading.Thread(target=asyncio.run, args=(_storm(urls, acked, stop),))
        storm.start()
        deadline = time.monotonic() + 20
        while len(acked) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(acked) >= 300, "the storm did not get going"
        server.kill()  # kill -9 while pings are in flight
        time.sleep(0.3)
        stop.set()
        storm.join(30)
        server.start()  # same database, no manual repair
        stored = {(url, ping["body"]) for url in urls for ping in server.pings(url)}
        lost = [item for item in acked if item not in stored]
        assert lost == [], f"{len(lost)} of {len(acked)} acknowledged pings were lost"
        # The restarted server takes pings again.
        assert httpx.get(urls[0]).text == "OK"
    finally:
        server.stop()
        server.kill()
        if database_url is not None:  # the session's database is shared with other tests
            asyncio.run(empty_database(database_url))
