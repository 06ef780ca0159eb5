"""Defect 11: a receiver that hangs delays only its own channel's alerts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.server.alerts.receivers import held_until, receiver
from tests.server.live import live_server

HUNG_ALERTS = 120


async def test_a_hung_receiver_does_not_hold_back_another_channel(
    database_url: str, tmp_path: Path
) -> None:
    release = asyncio.Event()
    async with (
        receiver(held_until(release)) as hung,
        receiver() as healthy,
        live_server(database_url, tmp_path) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        await server.create_channel(name="stuck", kind="webhook", url=hung.url, timeout="60s")
        await server.create_channel(name="ops", kind="webhook", url=healthy.url)
        stuck = [
            await server.create_monitor(name=f"job-{n}", channels=["stuck"])
            for n in range(HUNG_ALERTS)
        ]
        watched = await server.create_monitor(name="backup", channels=["ops"])
        await asyncio.gather(*(client.get(f"/ping/{m.uuid}/fail") for m in stuck))
        await hung.wait_for(1)

        await client.get(f"/ping/{watched.uuid}/fail")
        [alert] = await healthy.wait_for(1, timeout=15)

        # It arrived while every alert to the hung receiver was still unanswered.
        assert hung.answered == 0
        assert b"backup" in alert.body
        rows = await server.notifications()
        assert len(rows) == HUNG_ALERTS + 1
        assert all(row["status"] == "pending" for row in rows[:HUNG_ALERTS])

        release.set()
        await hung.wait_for(HUNG_ALERTS, timeout=15)
        settled = await server.settled_notifications()
        assert [row["status"] for row in settled] == ["delivered"] * (HUNG_ALERTS + 1)
        keys = {request.headers["Idempotency-Key"] for request in hung.requests}
        assert len(keys) == HUNG_ALERTS  # each alert sent once
