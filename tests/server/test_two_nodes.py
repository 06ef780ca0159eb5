"""Two ``tocsin server`` processes on one PostgreSQL database: the multi-node setup.

Each node runs its own ping writer, deadline watch and delivery worker; row locks, the
outbox claims and the slug advisory lock are what keep them from stepping on each other.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import empty_database
from tests.server.live import webhook_receiver
from tests.server_process import ServerProcess
from tocsin.server.domain.spec import channel_spec
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.projects import default_project

ROUNDS = 12


async def add_channel(database_url: str, url: str) -> None:
    database = Database(database_url)
    try:
        async with database.write() as conn:
            project = await default_project(conn)
            spec = channel_spec({"name": "ops", "kind": "webhook", "url": url})
            await create_channel(conn, project.id, spec, datetime.now(UTC))
    finally:
        await database.dispose()


@pytest.mark.slow
async def test_two_nodes_store_every_ping_and_alert_once(postgres_url: str, tmp_path: Path) -> None:
    env = {"TOCSIN_DEADLINE_RELOAD_SECONDS": "1"}
    nodes = [ServerProcess(tmp_path / name, postgres_url, **env) for name in ("a", "b")]
    try:
        for node in nodes:
            await asyncio.to_thread(node.start)
        first = nodes[0]
        async with webhook_receiver() as receiver, httpx.AsyncClient() as http:
            await add_channel(postgres_url, receiver.url)
            names = [f"job-{i}" for i in range(8)]
            create = first.create_heartbeat_monitor
            urls = [await asyncio.to_thread(create, name, 1, 1, channels=["ops"]) for name in names]
            # Every monitor is pinged through both nodes, at the same time.
            for round_ in range(ROUNDS):
                answers = await asyncio.gather(
                    *(
                        http.get(url.replace(first.base_url, nodes[(i + round_) % 2].base_url))
                        for i, url in enumerate(urls)
                        for _ in range(2)
                    )
                )
                assert {answer.text for answer in answers} == {"OK"}
            # Then silence: each monitor goes down once, whichever node notices first.
            await receiver.wait_for(len(names), timeout=15)
            await asyncio.sleep(2.5)  # a second alert from the other node would be here by now
        downs = [r.body["monitor"]["name"] for r in receiver.received if r.body["event"] == "down"]
        assert sorted(downs) == sorted(names)
        for url in urls:
            stored = await asyncio.to_thread(first.pings, url)
            assert [ping["n"] for ping in stored] == list(range(1, 2 * ROUNDS + 1))
    finally:
        for node in nodes:
            node.stop()
            node.kill()
        await empty_database(postgres_url)
