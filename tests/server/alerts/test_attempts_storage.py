"""The delivery-attempt history on both databases: written with outcomes, listed, pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.server.alerts.outbox_rows import pending_alerts
from tocsin.server.storage.database import Database
from tocsin.server.storage.deliveries import (
    ATTEMPT_RETENTION,
    Attempt,
    AttemptOutcome,
    claim_due,
    list_attempts,
    record_attempts,
)
from tocsin.server.storage.tables import notifications

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _attempt(
    notification_id: int,
    channel_id: int,
    number: int,
    outcome: AttemptOutcome,
    at: datetime = NOW,
    **fields: Any,
) -> Attempt:
    delivered = outcome is AttemptOutcome.DELIVERED
    attempt = Attempt(
        notification_id=notification_id,
        channel_id=channel_id,
        attempt=number,
        started_at=at,
        duration_ms=12,
        outcome=outcome,
        http_status=200 if delivered else 503,
        error=None if delivered else "HTTP 503: busy",
        next_attempt_at=at + timedelta(seconds=5) if outcome is AttemptOutcome.RETRY else None,
    )
    return attempt._replace(**fields)


async def test_recording_attempts_settles_notifications_and_keeps_each_attempt(
    db: Database,
) -> None:
    channel_id, [retried, delivered, failed] = await pending_alerts(db, 3, NOW)
    claimed = await db.run_write(claim_due, NOW, 10)
    assert [(c.id, c.attempts) for c in claimed] == [(retried, 1), (delivered, 1), (failed, 1)]
    await db.run_write(
        record_attempts,
        [
            _attempt(retried, channel_id, 1, AttemptOutcome.RETRY),
            _attempt(delivered, channel_id, 1, AttemptOutcome.DELIVERED),
            _attempt(failed, channel_id, 1, AttemptOutcome.FAILED, http_status=None),
        ],
        NOW + timedelta(seconds=1),
    )
    async with db.read() as conn:
        rows = {row.id: row for row in (await conn.execute(select(notifications))).all()}
        attempts = await list_attempts(conn, channel_id=channel_id)
    assert rows[retried].status == "pending"
    assert rows[retried].next_attempt_at == NOW + timedelta(seconds=5)
    assert rows[retried].last_error == "HTTP 503: busy"
    assert rows[delivered].status == "delivered"
    assert rows[delivered].delivered_at == NOW + timedelta(seconds=1)
    assert rows[failed].status == "failed"
    assert all(row.claimed_until is None for row in rows.values())
    assert [(a.notification_id, a.outcome, a.http_status) for a in attempts] == [
        (failed, AttemptOutcome.FAILED, None),
        (delivered, AttemptOutcome.DELIVERED, 200),
        (retried, AttemptOutcome.RETRY, 503),
    ]
    assert attempts[1].to_json()["started_at"] == NOW.isoformat()
    assert attempts[1].duration_ms == 12


async def test_attempts_list_newest_first_filtered_and_paged(db: Database) -> None:
    channel_id, [first, second] = await pending_alerts(db, 2, NOW)
    for number in (1, 2, 3):
        await db.run_write(
            record_attempts,
            [
                _attempt(first, channel_id, number, AttemptOutcome.RETRY),
                _attempt(second, channel_id, number, AttemptOutcome.RETRY),
            ],
            NOW,
        )
    async with db.read() as conn:
        everything = await list_attempts(conn)
        of_first = await list_attempts(conn, notification_id=first)
        page_one = await list_attempts(conn, channel_id=channel_id, limit=4)
        page_two = await list_attempts(
            conn, channel_id=channel_id, limit=4, before_id=page_one[-1].id
        )
        elsewhere = await list_attempts(conn, channel_id=channel_id + 1)
    assert len(everything) == 6
    assert [a.id for a in everything] == sorted((a.id for a in everything), reverse=True)
    assert [(a.notification_id, a.attempt) for a in of_first] == [
        (first, 3),
        (first, 2),
        (first, 1),
    ]
    assert page_one + page_two == everything
    assert elsewhere == []


async def test_attempts_older_than_the_retention_are_pruned_as_new_ones_are_recorded(
    db: Database,
) -> None:
    channel_id, [notification] = await pending_alerts(db, 1, NOW)
    old = NOW - ATTEMPT_RETENTION - timedelta(minutes=1)
    recent = NOW - ATTEMPT_RETENTION + timedelta(minutes=1)
    for number, at in ((1, old), (2, recent)):
        await db.run_write(
            record_attempts,
            [_attempt(notification, channel_id, number, AttemptOutcome.RETRY, at)],
            at,
        )
    async with db.read() as conn:
        assert [a.attempt for a in await list_attempts(conn)] == [2, 1]
    await db.run_write(
        record_attempts, [_attempt(notification, channel_id, 3, AttemptOutcome.DELIVERED)], NOW
    )
    async with db.read() as conn:
        assert [a.attempt for a in await list_attempts(conn)] == [3, 2]
