"""Defect 10: an alert is never sent on to where a redirect points, secret headers included."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.server.alerts.receivers import receiver, redirect_to
from tests.server.live import live_server
from tocsin.server.storage.deliveries import list_attempts

SECRET_HEADERS = {"Authorization": "Bearer s3cret", "X-Hook-Secret": "hunter2"}


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_fails_the_alert_and_nothing_reaches_its_target(
    database_url: str, tmp_path: Path, status: int
) -> None:
    async with (
        receiver() as target,
        receiver(redirect_to(target.url, status)) as hook,
        live_server(database_url, tmp_path) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        await server.create_channel(
            name="ops", kind="webhook", url=hook.url, headers=SECRET_HEADERS
        )
        monitor = await server.create_monitor(name="job", channels=["ops"])
        await client.get(f"/ping/{monitor.uuid}/fail")
        [sent] = await hook.wait_for(1)
        assert sent.headers["X-Hook-Secret"] == "hunter2"

        [row] = await server.settled_notifications()
        assert target.requests == []
        assert row["status"] == "failed"  # a redirect does not fix itself: not retried
        assert row["attempts"] == 1
        assert row["last_error"].startswith(f"HTTP {status} redirect to {target.url}")
        async with server.database.read() as conn:
            [attempt] = await list_attempts(conn, channel_id=row["channel_id"])
        assert (attempt.outcome, attempt.http_status) == ("failed", status)
        assert attempt.error == row["last_error"]
