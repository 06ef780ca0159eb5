"""Channels of every kind through the real delivery worker, on both databases: the
server's SMTP settings reach email channels, and a ``Retry-After`` sets the next try."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
