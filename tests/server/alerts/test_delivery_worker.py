"""The delivery worker on its own, against a real receiver and both databases."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.server.alerts.outbox_rows import pending_alerts
from tests.server.alerts.receivers import Answer, answer_ok, answering, held_until, receiver
from tocsin.server.alerts import delivery
from tocsin.server.alerts.delivery import DeliveryWorker
from tocsin.server.storage.database import Database
from tocsin.server.storage.deliveries import AttemptOutcome, AttemptRecord, list_attempts
from tocsin.server.storage.tables import notifications


async def _attempts(db: Database, count: int) -> list[AttemptRecord]:
    """The stored attempts, oldest first, once there are ``count``."""
    async with asyncio.timeout(10):
        while True:
            async with db.read() as conn:
                found = await list_attempts(conn)
            if len(found) >= count:
                return found[::-1]
            await asyncio.sleep(0.02)


async def test_an_alert_queued_too_long_behind_its_channel_is_retried_not_sent(
    db: Database,
) -> None:
    release = asyncio.Event()
    async with receiver(held_until(release)) as hook:
        _, [first, second] = await pending_alerts(db, 2, datetime.now(UTC), hook.url)
        worker = DeliveryWorker(db, per_channel=1, queue_seconds=0.2)
        worker.start()
        try:
            await hook.wait_for(1)
            await asyncio.sleep(0.4)  # the second alert has now waited past queue_seconds
            release.set()
            sent, waited = await _attempts(db, 2)
        finally:
            await worker.stop()
        assert len(hook.requests) == 1
    assert (sent.notification_id, sent.outcome, sent.http_status) == (
        first,
        AttemptOutcome.DELIVERED,
        200,
    )
    assert (waited.notification_id, waited.outcome, waited.http_status) == (
        second,
        AttemptOutcome.RETRY,
        None,
    )
    assert waited.error == "not sent: waited 0.2 s behind this channel's other alerts"
    async with db.read() as conn:
        row = (await conn.execute(select(notifications).where(notifications.c.id == second))).one()
    assert (row.status, row.claimed_until) == ("pending", None)
    assert row.next_attempt_at > waited.started_at  # backoff before the next try


async def test_channels_that_fill_the_pool_do_not_hold_back_another(db: Database) -> None:
    release = asyncio.Event()
    now = datetime.now(UTC)
    async with receiver(held_until(release)) as hung, receiver() as healthy:
        stuck = {"name": "stuck", "kind": "webhook", "url": hung.url, "timeout": "60s"}
        await pending_alerts(db, 3, now, channel=stuck, prefix="stuck-")
        # Due once the stuck channel's sends hold the pool's only slot.
        _, [watched] = await pending_alerts(
            db, 1, now + timedelta(seconds=0.5), healthy.url, prefix="ops-"
        )
        worker = DeliveryWorker(db, concurrency=1, per_channel=2)
        worker.start()
        try:
            [alert] = await healthy.wait_for(1, timeout=8)
            # Both sends to the hung receiver were still unanswered: its channel's own
            # slot and the pool's only one.
            assert (len(hung.requests), hung.answered) == (2, 0)
            [delivered] = await _attempts(db, 1)
        finally:
            release.set()
            await worker.stop()
    assert alert.headers["Idempotency-Key"] == "ops-key-0"
    assert (delivered.notification_id, delivered.outcome) == (watched, AttemptOutcome.DELIVERED)


async def _delivery_lines(
    db: Database, count: int, caplog: pytest.LogCaptureFixture, answer: Answer = answer_ok
) -> list[tuple[int, str]]:
    """What the worker logs (level, message) while it sends ``count`` alerts due to a
    channel of their own, to a receiver that answers with ``answer``."""
    caplog.clear()
    async with receiver(answer) as hook:
        channel = {"name": f"ops-{count}", "kind": "webhook", "url": hook.url}
        await pending_alerts(db, count, datetime.now(UTC), channel=channel, prefix=f"n{count}-")
        worker = DeliveryWorker(db)
        with caplog.at_level(logging.INFO, logger=delivery.__name__):
            worker.start()
            try:
                await hook.wait_for(count)
                # The lines come once the batch's attempts are recorded.
                async with asyncio.timeout(5):
                    while not [r for r in caplog.records if r.name == delivery.__name__]:
                        await asyncio.sleep(0.02)
            finally:
                await worker.stop()
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == delivery.__name__]


async def test_many_alerts_delivered_together_log_a_count_and_a_few_a_line_each(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    [(level, line)] = await _delivery_lines(db, 12, caplog)
    assert level == logging.INFO
    assert re.fullmatch(r"alerts delivered channel_id=\d+ count=12", line)
    few = await _delivery_lines(db, 2, caplog)
    assert len(few) == 2
    assert all(level == logging.INFO for level, _ in few)
    assert all(re.fullmatch(r"alert delivered notification=\d+ attempt=1", line) for _, line in few)


async def test_a_receiver_refusing_many_alerts_logs_one_warning_and_a_few_one_each(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # 401 is a permanent failure: no retry, and a warning, but not one per alert of a burst.
    [(level, line)] = await _delivery_lines(db, 12, caplog, answering(401))
    assert level == logging.WARNING
    assert re.fullmatch(r"alerts failed channel_id=\d+ count=12 first error=.*401.*", line)
    few = await _delivery_lines(db, 2, caplog, answering(401))
    assert [level for level, _ in few] == [logging.WARNING] * 2
    assert all(
        re.fullmatch(r"alert failed notification=\d+ error=.*401.*", line) for _, line in few
    )
