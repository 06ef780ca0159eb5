"""Channels of every kind through the real delivery worker, on both databases: the
server's SMTP settings reach email channels, a ``Retry-After`` sets the next try, and
retries wait their backoff lengthened by a random share (up to a fifth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from sqlalchemy import select

from tests.server.alerts.outbox_rows import pending_alerts
from tests.server.alerts.receivers import Receiver, receiver
from tests.server.alerts.test_channel_email import Recorder, smtp_server
from tests.server.alerts.test_delivery_worker import _attempts
from tocsin.server.alerts.channels import senders
from tocsin.server.alerts.delivery import DeliveryWorker
from tocsin.server.storage.database import Database
from tocsin.server.storage.deliveries import AttemptOutcome
from tocsin.server.storage.tables import notifications
from tocsin.settings import Settings


async def test_email_alerts_go_through_the_servers_smtp_settings(db: Database) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        url = f"smtp://127.0.0.1:{port}?starttls=false&from=tocsin@example.com"
        smtp = Settings.from_env({"TOCSIN_SMTP_URL": url}).smtp
        email = {"name": "mail", "kind": "email", "to": ["ops@example.com"]}
        await pending_alerts(db, 2, datetime.now(UTC), channel=email)
        worker = DeliveryWorker(db, channels=senders(smtp))
        worker.start()
        try:
            attempts = await _attempts(db, 2)
        finally:
            await worker.stop()
    assert [(a.outcome, a.http_status) for a in attempts] == [(AttemptOutcome.DELIVERED, 250)] * 2
    assert sorted(envelope.rcpt_tos[0] for envelope, _ in recorder.messages) == [
        "ops@example.com",
        "ops@example.com",
    ]


async def test_a_rate_limited_alert_waits_as_long_as_the_receiver_asked(db: Database) -> None:
    async def slow_down(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=429, headers={"Retry-After": "120"}, text="rate_limited")

    async with receiver(slow_down) as slack:
        channel = {"name": "chat", "kind": "slack", "url": slack.url}
        _, [alert] = await pending_alerts(db, 1, datetime.now(UTC), channel=channel)
        worker = DeliveryWorker(db)
        worker.start()
        try:
            [attempt] = await _attempts(db, 1)
        finally:
            await worker.stop()
    assert (attempt.outcome, attempt.http_status) == (AttemptOutcome.RETRY, 429)
    async with db.read() as conn:
        row = (await conn.execute(select(notifications).where(notifications.c.id == alert))).one()
    # The first backoff step is 5 s; Slack asked for 120.
    assert row.next_attempt_at >= attempt.started_at + timedelta(seconds=120)


async def _retried(db: Database, worker: DeliveryWorker, count: int) -> list[float]:
    """Run ``worker`` until ``count`` attempts are recorded; each attempt's wait in
    seconds: its notification's next attempt minus the moment the attempt ended."""
    worker.start()
    try:
        attempts = await _attempts(db, count)
    finally:
        await worker.stop()
    async with db.read() as conn:
        rows = (
            await conn.execute(select(notifications.c.id, notifications.c.next_attempt_at))
        ).all()
    next_at = dict(rows)
    assert all(attempt.outcome is AttemptOutcome.RETRY for attempt in attempts)
    return [
        (
            next_at[attempt.notification_id]
            - attempt.started_at
            - timedelta(milliseconds=attempt.duration_ms)
        ).total_seconds()
        for attempt in attempts
    ]


async def _unavailable(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
    return web.Response(status=503, text="down for maintenance")


async def test_a_retry_waits_its_backoff_lengthened_by_the_jitter_drawn(db: Database) -> None:
    async with receiver(_unavailable) as hook:
        await pending_alerts(db, 1, datetime.now(UTC), hook.url)
        [wait] = await _retried(db, DeliveryWorker(db, rng=lambda: 0.5), 1)
    # The first backoff step is 5 s, and half the jitter lengthens it by a tenth.
    assert wait == pytest.approx(5.5, abs=0.01)


async def test_alerts_that_failed_together_come_back_spread_out(db: Database) -> None:
    async with receiver(_unavailable) as hook:
        await pending_alerts(db, 20, datetime.now(UTC), hook.url)
        waits = await _retried(db, DeliveryWorker(db), 20)
    assert all(4.99 <= wait <= 6.01 for wait in waits)  # 5 s, and up to a fifth more
    assert max(waits) - min(waits) > 0.4
