"""A monitor's alerts to a channel leave one at a time, in the order they were written;
a note that an alert waited too long does not use up one of its attempts (both
databases, real receivers)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import Row, select, update

from tests.server.alerts.outbox_rows import pending_alerts
from tests.server.alerts.receivers import Receiver, held_until, receiver
from tocsin.server.alerts.delivery import IDLE_POLL_SECONDS, MAX_ATTEMPTS, DeliveryWorker
from tocsin.server.storage.claimed import ClaimedAlert
from tocsin.server.storage.database import Database
from tocsin.server.storage.deliveries import (
    Attempt,
    AttemptOutcome,
    AttemptRecord,
    claim_due,
    list_attempts,
    next_attempt_at,
    record_attempts,
)
from tocsin.server.storage.tables import channels, notifications

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _delivered(notification_id: int, channel_id: int, attempt: int) -> Attempt:
    return Attempt(
        notification_id=notification_id,
        channel_id=channel_id,
        attempt=attempt,
        started_at=NOW,
        duration_ms=5,
        outcome=AttemptOutcome.DELIVERED,
        http_status=200,
        error=None,
        next_attempt_at=None,
    )


async def test_only_the_oldest_pending_alert_of_a_monitor_is_claimed(db: Database) -> None:
    channel_id, [down, up] = await pending_alerts(db, 2, NOW, same_monitor=True)

    assert [alert.id for alert in await db.run_write(claim_due, NOW, 10)] == [down]
    # Claimed, but not yet delivered: the next one still waits (and is not "due").
    assert await db.run_write(claim_due, NOW + timedelta(seconds=30), 10) == []
    async with db.read() as conn:
        assert await next_attempt_at(conn) is None

    await db.run_write(record_attempts, [_delivered(down, channel_id, 1)], NOW)
    [claimed] = await db.run_write(claim_due, NOW, 10)
    assert (claimed.id, claimed.attempts) == (up, 1)


async def test_alerts_of_different_monitors_are_claimed_together(db: Database) -> None:
    _, ids = await pending_alerts(db, 3, NOW)
    assert [alert.id for alert in await db.run_write(claim_due, NOW, 10)] == ids


def _answer_in_turn(log: list[str]) -> object:
    """Log each request's arrival and answer; hold the first answer until a second
    request arrives or a second passes, so alerts sent together would overlap."""
    second = asyncio.Event()

    async def answer(state: Receiver, request: web.Request) -> web.StreamResponse:
        key = request.headers["Idempotency-Key"]
        log.append(f"arrived {key}")
        if len(state.requests) == 1:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(second.wait(), 1.0)
        else:
            second.set()
        log.append(f"answered {key}")
        return web.Response(text="ok")

    return answer


async def test_a_monitors_alerts_are_sent_one_after_the_other(db: Database) -> None:
    log: list[str] = []
    async with receiver(_answer_in_turn(log)) as hook:  # type: ignore[arg-type]
        await pending_alerts(db, 3, datetime.now(UTC), hook.url, same_monitor=True)
        worker = DeliveryWorker(db)
        worker.start()
        try:
            await hook.wait_for(3)
            await _attempts(db, 3)
        finally:
            await worker.stop()
    keys = [f"key-{n}" for n in range(3)]
    assert log == [f"{word} {key}" for key in keys for word in ("arrived", "answered")]
    async with db.read() as conn:
        rows = (await conn.execute(select(notifications.c.status, notifications.c.attempts))).all()
    assert [tuple(row) for row in rows] == [("delivered", 1)] * 3


async def _attempts(db: Database, count: int) -> list[AttemptRecord]:
    """The stored attempts, oldest first, once there are ``count``."""
    async with asyncio.timeout(15):
        while True:
            async with db.read() as conn:
                found = await list_attempts(conn)
            if len(found) >= count:
                return found[::-1]
            await asyncio.sleep(0.02)


async def test_waiting_too_long_for_a_turn_does_not_use_up_an_attempt(db: Database) -> None:
    release = asyncio.Event()
    async with receiver(held_until(release)) as hook:
        _, [first, last_try] = await pending_alerts(db, 2, datetime.now(UTC), hook.url)
        # The second alert has been tried all but once already.
        await _set(db, last_try, attempts=MAX_ATTEMPTS - 1)
        worker = DeliveryWorker(db, per_channel=1, queue_seconds=0.2)
        worker.start()
        try:
            await hook.wait_for(1)
            await asyncio.sleep(0.4)  # the second alert has now waited past queue_seconds
            release.set()
            sent, waited = await _attempts(db, 2)
        finally:
            await worker.stop()
        assert (sent.notification_id, sent.outcome) == (first, AttemptOutcome.DELIVERED)
        assert (waited.notification_id, waited.outcome, waited.attempt) == (
            last_try,
            AttemptOutcome.RETRY,
            MAX_ATTEMPTS,
        )
        assert waited.error == "not sent: waited 0.2 s behind this channel's other alerts"
        row = await _row(db, last_try)
        # Not given up: the note did not count, and the alert keeps its last real try.
        assert (row.status, row.attempts, row.claimed_until) == ("pending", MAX_ATTEMPTS - 1, None)

        await _set(db, last_try, next_attempt_at=datetime.now(UTC))  # its backoff passed
        worker = DeliveryWorker(db)
        worker.start()
        try:
            *_, last = await _attempts(db, 3)
        finally:
            await worker.stop()
    assert (last.notification_id, last.outcome, last.attempt) == (
        last_try,
        AttemptOutcome.DELIVERED,
        MAX_ATTEMPTS,
    )
    assert len(hook.requests) == 2
    assert (await _row(db, last_try)).attempts == MAX_ATTEMPTS


async def _set(db: Database, notification_id: int, **values: object) -> None:
    async with db.write() as conn:
        await conn.execute(
            update(notifications).where(notifications.c.id == notification_id).values(**values)
        )


async def _row(db: Database, notification_id: int) -> Row[Any]:
    async with db.read() as conn:
        query = select(notifications).where(notifications.c.id == notification_id)
        return (await conn.execute(query)).one()


async def _as_written(db: Database, newer: int, older: int, **values: object) -> ClaimedAlert:
    """Notification ``newer`` (of ``pending_alerts``) as the outbox hands it over: claimed
    (its row set to ``values``), written while ``older`` of its pair was pending."""
    await _set(db, newer, attempts=1, **values)
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(notifications.c.monitor_id, notifications.c.channel_id)
                .add_columns(channels.c.kind, channels.c.settings)
                .join(channels, channels.c.id == notifications.c.channel_id)
                .where(notifications.c.id == newer)
            )
        ).one()
    return ClaimedAlert(
        id=newer,
        monitor_id=row.monitor_id,
        channel_id=row.channel_id,
        kind=row.kind,
        settings=dict(row.settings),
        payload={"n": 1},
        idempotency_key="key-1",
        attempts=1,
        older_pending=(older,),
    )


async def test_an_alert_held_back_for_an_older_one_done_meanwhile_leaves_at_once(
    db: Database,
) -> None:
    # The outbox wrote the newer alert while the older one of its pair was pending; by the
    # time the newer one is handed over, the older one was delivered (by another server).
    async with receiver() as hook:
        now = datetime.now(UTC)
        channel_id, [older, newer] = await pending_alerts(db, 2, now, hook.url, same_monitor=True)
        await db.run_write(record_attempts, [_delivered(older, channel_id, 1)], now)
        handed = await _as_written(db, newer, older, claimed_until=now + timedelta(seconds=60))
        worker = DeliveryWorker(db)
        worker.start()
        try:
            await asyncio.sleep(0.2)  # the claim loop found nothing and went to sleep
            worker.send([handed])
            # Given back unsent, then claimed again at once: not at the next idle poll.
            [request] = await hook.wait_for(1, timeout=IDLE_POLL_SECONDS / 2)
            attempts = await _attempts(db, 2)
        finally:
            await worker.stop()
    assert request.headers["Idempotency-Key"] == "key-1"
    assert [(a.notification_id, a.outcome) for a in attempts] == [
        (older, AttemptOutcome.DELIVERED),
        (newer, AttemptOutcome.DELIVERED),
    ]


async def test_an_alert_written_while_an_older_one_was_sent_here_does_not_wait_for_it(
    db: Database,
) -> None:
    # The older alert is delivered by this worker between the newer one's insert and its
    # hand-over. The newer one is due in an hour (as a test clock may write it): given
    # back, the claim loop would leave it until then.
    async with receiver() as hook:
        now = datetime.now(UTC)
        _, [older, newer] = await pending_alerts(db, 2, now, hook.url, same_monitor=True)
        later = now + timedelta(hours=1)
        handed = await _as_written(db, newer, older, next_attempt_at=later, claimed_until=later)
        worker = DeliveryWorker(db)
        worker.start()
        try:
            await hook.wait_for(1)  # the older one, claimed and sent
            await _attempts(db, 1)
            assert await db.run_write(claim_due, now, 10) == []  # nothing else is due
            worker.send([handed])
            [_, request] = await hook.wait_for(2, timeout=IDLE_POLL_SECONDS / 2)
        finally:
            await worker.stop()
    assert request.headers["Idempotency-Key"] == "key-1"
