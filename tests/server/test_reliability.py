"""kill -9 in the middle of a ping storm loses no acknowledged ping (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.server.conftest import empty_database
from tests.server.live import live_server
from tests.server_process import ServerProcess
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key
from tocsin.server.storage.database import Database

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


async def _terminate_other_backends(database: Database) -> None:
    """Drop every other connection to the test's own database (as a failover would)."""
    async with database.write() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_api_answers_200_or_503_never_500_when_connections_are_dropped(
    database_url: str, tmp_path: Path
) -> None:
    async with live_server(database_url, tmp_path) as server:
        monitor = await server.create_monitor(name="job")
        async with server.database.write() as conn:
            key = await create_api_key(conn, "ops", ApiKeyScope.WRITE, datetime.now(UTC))
        headers = {"Authorization": f"Bearer {key.key}"}
        statuses: list[int] = []
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
            for round_ in range(40):
                # Between requests, and while the next ones are on their way.
                await _terminate_other_backends(server.database)
                answers = await asyncio.gather(
                    client.get("/api/v1/monitors"),
                    client.get(f"/api/v1/monitors/{monitor.uuid}"),
                    client.patch(f"/api/v1/monitors/{monitor.uuid}", json={"desc": str(round_)}),
                    client.get("/api/v1/channels"),
                    _terminate_other_backends(server.database),
                )
                for answer in answers[:-1]:
                    statuses.append(answer.status_code)
                    if answer.status_code == 503:
                        assert "error" in answer.json()
        assert 500 not in statuses, statuses
        assert statuses.count(200) > 0
