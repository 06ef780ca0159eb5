"""Silences and incidents through the API of a running server: a silenced monitor goes
down quietly, its incident is listed, and unsilencing it sends the held alert at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.server.live import live_server, webhook_receiver
from tests.server.web.api.conftest import make_key
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.apikeys import ApiKeyScope


async def test_silence_incident_and_unsilence(database_url: str, tmp_path: Path) -> None:
    async with webhook_receiver() as hook, live_server(database_url, tmp_path) as server:
        key = await make_key(server.database, ApiKeyScope.WRITE)
        await server.create_channel(name="ops", kind="webhook", url=hook.url)
        monitor = await server.create_monitor(
            name="worker", period="1s", grace="1s", channels=["ops"]
        )
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
            made = await client.post("/api/v1/silences", json={"monitor": "worker", "for": "1h"})
            assert made.status_code == 201, made.text
            assert made.json()["monitor"] == "worker"
            listed = (await client.get("/api/v1/silences")).json()["holds"]
            assert [h["monitor"] for h in listed] == ["worker"]

            await client.get(f"/ping/{monitor.uuid}")
            async with asyncio.timeout(10):
                while (await server.monitor(monitor.uuid)).status.state is not MonitorState.DOWN:
                    await asyncio.sleep(0.1)
            [incident] = (await client.get("/api/v1/incidents?open=true")).json()["incidents"]
            assert incident["monitor"] == "worker"
            assert incident["resolved_at"] is None
            assert hook.received == []  # held

            gone = await client.delete("/api/v1/silences/worker")
            assert gone.status_code == 204
            [released] = await hook.wait_for(1)
            assert released.body["event"] == "held_release"
            assert released.body["incident"]["id"] == incident["id"]

            await client.get(f"/ping/{monitor.uuid}")
            up = (await hook.wait_for(2))[1]
            assert up.body["event"] == "up"
            [closed] = (await client.get("/api/v1/incidents")).json()["incidents"]
            assert closed["resolved_at"] is not None
            assert closed["alerts"] == 2
            assert (await client.get("/api/v1/incidents?open=true")).json()["incidents"] == []


async def test_silence_needs_a_duration_or_a_time(database_url: str, tmp_path: Path) -> None:
    async with live_server(database_url, tmp_path) as server:
        key = await make_key(server.database, ApiKeyScope.WRITE)
        await server.create_monitor(name="worker")
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
            bad = await client.post("/api/v1/silences", json={"monitor": "worker", "for": "soon"})
            assert bad.status_code == 422
            assert "for" in bad.json()["fields"]
            neither = await client.post("/api/v1/silences", json={"monitor": "worker"})
            assert neither.status_code == 422
            missing = await client.post("/api/v1/silences", json={"monitor": "nope", "for": "1h"})
            assert missing.status_code == 404
            assert (await client.delete("/api/v1/silences/worker")).status_code == 404
