"""Missed heartbeats alert through a real webhook, on time, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.server.live import LiveServer, WebhookReceiver, live_server, webhook_receiver
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.deliveries import list_attempts


@dataclass
class Alerting:
    """A live server with a webhook channel ``ops`` pointing at a live receiver."""

    server: LiveServer
    hook: WebhookReceiver
    client: httpx.AsyncClient


@pytest.fixture
async def alerting(database_url: str, tmp_path: Path) -> AsyncIterator[Alerting]:
    async with (
        webhook_receiver() as hook,
        live_server(database_url, tmp_path) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        await server.create_channel(name="ops", kind="webhook", url=hook.url)
        yield Alerting(server, hook, client)


async def test_silence_alerts_down_within_a_second_then_recovery(alerting: Alerting) -> None:
    server, hook, client = alerting.server, alerting.hook, alerting.client
    monitor = await server.create_monitor(name="worker", period="1s", grace="1s", channels=["ops"])
    await client.get(f"/ping/{monitor.uuid}")
    pinged = await server.monitor(monitor.uuid)
    assert pinged.status.last_ping_at is not None
    down_at = pinged.status.last_ping_at + pinged.schedule.period + pinged.schedule.grace  # type: ignore[operator]

    [alert] = await hook.wait_for(1, timeout=5)
    assert alert.body["event"] == "down"
    assert alert.body["monitor"]["name"] == "worker"
    assert alert.body["monitor"]["ping_url"] == f"{server.base_url}/ping/{monitor.uuid}"
    assert "grace 1s ran out" in alert.body["flip"]["cause"]
    assert alert.headers["Idempotency-Key"] == alert.body["idempotency_key"]
    lateness = (alert.at - down_at).total_seconds()
    assert 0 <= lateness < 1.0, lateness
    stored = await server.monitor(monitor.uuid)
    assert stored.status.state is MonitorState.DOWN
    states = [(f.old_state, f.new_state) for f in await server.flips(monitor.uuid)]
    assert states == [("grace", "down"), ("up", "grace"), ("new", "up")]

    await client.get(f"/ping/{monitor.uuid}")
    recovery = (await hook.wait_for(2, timeout=5))[1]
    assert recovery.body["event"] == "up"
    assert recovery.body["flip"]["old_state"] == "down"
    notifications = await server.settled_notifications()
    assert [n["status"] for n in notifications] == ["delivered", "delivered"]


async def test_failed_deliveries_are_retried_and_recorded(alerting: Alerting) -> None:
    server, hook, client = alerting.server, alerting.hook, alerting.client
    hook.statuses = [503]
    monitor = await server.create_monitor(name="job", channels=["ops"])
    await client.get(f"/ping/{monitor.uuid}/fail")
    first, second = await hook.wait_for(2, timeout=15)
    assert first.body["idempotency_key"] == second.body["idempotency_key"]
    assert (second.at - first.at).total_seconds() >= 4.5  # the first backoff step
    [row] = await server.settled_notifications()
    assert row["status"] == "delivered"
    assert row["attempts"] == 2
    assert row["last_error"] is None
    async with server.database.read() as conn:
        delivered, retried = await list_attempts(conn, notification_id=row["id"])
    assert (retried.attempt, retried.outcome, retried.http_status) == (1, "retry", 503)
    assert retried.error == "HTTP 503: nope"
    assert (delivered.attempt, delivered.outcome, delivered.http_status) == (2, "delivered", 200)
    assert delivered.error is None
    assert delivered.channel_id == row["channel_id"]
    assert retried.started_at <= first.at <= second.at


async def test_permanent_failure_is_not_retried(alerting: Alerting) -> None:
    server, hook, client = alerting.server, alerting.hook, alerting.client
    hook.statuses = [410]
    monitor = await server.create_monitor(name="job", channels=["ops"])
    await client.get(f"/ping/{monitor.uuid}/fail")
    await hook.wait_for(1)
    [row] = await server.settled_notifications()
    assert row["status"] == "failed"
    assert row["last_error"].startswith("HTTP 410")
    assert row["attempts"] == 1


async def test_started_run_without_success_goes_down_after_grace(alerting: Alerting) -> None:
    server, hook, client = alerting.server, alerting.hook, alerting.client
    monitor = await server.create_monitor(name="job", period="1h", grace="1s", channels=["ops"])
    await client.get(f"/ping/{monitor.uuid}/start")
    [alert] = await hook.wait_for(1, timeout=5)
    assert alert.body["flip"]["old_state"] == "started"
    assert "no success within the grace time of 1s" in alert.body["flip"]["cause"]


async def test_deadlines_survive_a_restart(database_url: str, tmp_path: Path) -> None:
    async with webhook_receiver() as hook:
        async with (
            live_server(database_url, tmp_path) as server,
            httpx.AsyncClient(base_url=server.base_url) as client,
        ):
            await server.create_channel(name="ops", kind="webhook", url=hook.url)
            monitor = await server.create_monitor(
                name="job", period="1s", grace="1s", channels=["ops"]
            )
            await client.get(f"/ping/{monitor.uuid}")
        # The server is gone before the deadline; a new one must still alert.
        async with live_server(database_url, tmp_path):
            [alert] = await hook.wait_for(1, timeout=6)
            assert alert.body["event"] == "down"
