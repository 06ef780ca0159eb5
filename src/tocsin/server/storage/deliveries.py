"""The delivery worker's SQL: claiming due notifications, recording attempts, listing them.

Alerts of one channel and monitor (a *pair*) leave in the order they were written (by
id): a notification is claimed only while no older one of its pair is pending (the
partial index ``ix_notifications_pending_pair`` answers that). Alerts handed to the
worker straight from a flip carry the older ones still pending when they were written
(``HotStatements.insert_notifications``).

Recording is on the alert-latency hot path: every batch of sends ends with one call of
``record_attempts``, which updates the notifications, inserts one ``delivery_attempts``
row per attempt and prunes old attempts. On PostgreSQL that is a single statement (data-
modifying ``WITH`` clauses), so one round trip whatever the batch size; SQLite runs in
process, where separate statements cost no round trips.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnClause,
    Integer,
    SmallInteger,
    String,
    Text,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.domain.states import CLAIM_SECONDS, NotificationStatus
from tocsin.server.storage.claimed import ClaimedAlert
from tocsin.server.storage.tables import channels, delivery_attempts, notifications
from tocsin.server.storage.types import UTCDateTime, utc_to_sqlite

# Attempts older than this are deleted as new ones are recorded.
ATTEMPT_RETENTION = timedelta(days=30)
# An attempt's error text is cut to this many characters (it names the cause, not a log).
ERROR_MAX = 500


class AttemptOutcome(StrEnum):
    """What one attempt ended in: ``retry`` leaves the notification pending for later."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


_NOTIFICATION_STATUS = {
    AttemptOutcome.DELIVERED: NotificationStatus.DELIVERED.value,
    AttemptOutcome.RETRY: NotificationStatus.PENDING.value,
    AttemptOutcome.FAILED: NotificationStatus.FAILED.value,
}


class Attempt(NamedTuple):
    """One finished attempt, as ``record_attempts`` writes it; the field order is the
    column order of the PostgreSQL statement.

    ``sent`` is false for a note that the alert was not sent (it waited too long for its
    turn): the row is kept with the number the next real send will carry, and the
    notification's count of attempts goes back to the real sends."""

    notification_id: int
    channel_id: int
    attempt: int
    started_at: datetime
    duration_ms: int
    outcome: AttemptOutcome
    http_status: int | None
    error: str | None
    # When to try again (``retry`` only).
    next_attempt_at: datetime | None
    sent: bool = True


class Released(NamedTuple):
    """A claimed notification given back unsent (an older alert of its pair is pending):
    unclaimed, its count of attempts back to the real sends."""

    notification_id: int
    attempts: int


@dataclass(frozen=True)
class AttemptRecord:
    """A stored attempt."""

    id: int
    notification_id: int
    channel_id: int
    attempt: int
    started_at: datetime
    duration_ms: int
    outcome: AttemptOutcome
    http_status: int | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        """The attempt as the API and CLI print it."""
        return {
            "id": self.id,
            "notification_id": self.notification_id,
            "channel_id": self.channel_id,
            "attempt": self.attempt,
            "started_at": self.started_at.isoformat(),
            "duration_ms": self.duration_ms,
            "outcome": self.outcome.value,
            "http_status": self.http_status,
            "error": self.error,
        }


def cap_error(text: str) -> str:
    """``text`` cut to ``ERROR_MAX`` characters."""
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


# A literal, not a bound parameter: only then can SQLite (and PostgreSQL's generic plans)
# see that the condition implies the partial index's.
_PENDING: ColumnClause[Any] = literal_column(f"'{NotificationStatus.PENDING.value}'")


def _older_pending() -> Any:
    """Whether an older notification of the same channel and monitor is still pending."""
    older = notifications.alias("older")
    return exists().where(
        older.c.channel_id == notifications.c.channel_id,
        older.c.monitor_id == notifications.c.monitor_id,
        older.c.status == _PENDING,
        older.c.id < notifications.c.id,
    )


def _due(now: datetime, busy_channels: Collection[int]) -> Any:
    condition = and_(
        notifications.c.status == _PENDING,
        notifications.c.next_attempt_at <= now,
        or_(notifications.c.claimed_until.is_(None), notifications.c.claimed_until < now),
        ~_older_pending(),
    )
    if busy_channels:
        condition = and_(condition, notifications.c.channel_id.not_in(sorted(busy_channels)))
    return condition


def claim_due(
    conn: Connection,
    now: datetime,
    limit: int,
    busy_channels: Collection[int] = (),
    claim_seconds: float = CLAIM_SECONDS,
) -> list[ClaimedAlert]:
    """Claim up to ``limit`` due notifications (not of ``busy_channels``) for this process,
    for ``claim_seconds``.

    Only the oldest pending notification of each channel and monitor is ever due, so a
    later alert never leaves before an earlier one of the same pair is delivered or given
    up. The claim is a compare-and-set on ``claimed_until`` (rows locked with ``SKIP
    LOCKED`` on PostgreSQL), so two processes never claim the same attempt; it counts the
    attempt.
    """
    due = _due(now, busy_channels)
    query = (
        select(
            notifications.c.id,
            notifications.c.monitor_id,
            notifications.c.channel_id,
            channels.c.kind,
            channels.c.settings,
            notifications.c.payload,
            notifications.c.idempotency_key,
            notifications.c.attempts,
        )
        .join(channels, channels.c.id == notifications.c.channel_id)
        .where(due)
        .order_by(notifications.c.id)
        .limit(limit)
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True, of=notifications)
    rows = conn.execute(query).all()
    if not rows:
        return []
    conn.execute(
        update(notifications)
        .where(notifications.c.id.in_([row.id for row in rows]), due)
        .values(
            claimed_until=now + timedelta(seconds=claim_seconds),
            attempts=notifications.c.attempts + 1,
        )
    )
    return [
        ClaimedAlert(
            id=row.id,
            monitor_id=row.monitor_id,
            channel_id=row.channel_id,
            kind=row.kind,
            settings=dict(row.settings),
            payload=dict(row.payload),
            idempotency_key=row.idempotency_key,
            attempts=row.attempts + 1,
        )
        for row in rows
    ]


def extend_claims(conn: Connection, ids: Sequence[int], until: datetime) -> None:
    """Make the claims on the pending notifications ``ids`` last until ``until``."""
    for start in range(0, len(ids), _CHUNK):
        conn.execute(
            update(notifications)
            .where(
                notifications.c.id.in_(ids[start : start + _CHUNK]),
                notifications.c.status == NotificationStatus.PENDING.value,
            )
            .values(claimed_until=until)
        )


def release(conn: Connection, released: Sequence[Released]) -> None:
    """Give claimed notifications back unsent (see ``Released``)."""
    if released:
        conn.execute(
            _RELEASE, [{"r_id": r.notification_id, "r_attempts": r.attempts} for r in released]
        )


async def next_attempt_at(
    conn: AsyncConnection, busy_channels: Collection[int] = ()
) -> datetime | None:
    """When the earliest unclaimed pending notification that is the oldest of its channel
    and monitor (not of ``busy_channels``) is due."""
    condition = and_(
        notifications.c.status == _PENDING,
        notifications.c.claimed_until.is_(None),
        ~_older_pending(),
    )
    if busy_channels:
        condition = and_(condition, notifications.c.channel_id.not_in(sorted(busy_channels)))
    # type_coerce keeps the column's type through min(), so SQLite's text comes back aware.
    earliest = type_coerce(func.min(notifications.c.next_attempt_at), UTCDateTime)
    result: datetime | None = (await conn.execute(select(earliest).where(condition))).scalar()
    return result


def record_attempts(
    conn: Connection,
    attempts: Sequence[Attempt],
    now: datetime,
    released: Sequence[Released] = (),
) -> None:
    """Store finished attempts and their notifications' new state, give back ``released``
    notifications; prune old attempts.

    ``now`` is when the batch finished: a delivered notification's ``delivered_at``. A
    notification's count of attempts is set to the real sends (a claim counted one).
    """
    release(conn, released)
    if not attempts:
        return
    prune_before = now - ATTEMPT_RETENTION
    if conn.dialect.name == "sqlite":
        _record_sqlite(conn, attempts, now, prune_before)
        return
    arrays = [list(column) for column in zip(*attempts, strict=True)]
    statuses = [_NOTIFICATION_STATUS[attempt.outcome] for attempt in attempts]
    outcomes = [attempt.outcome.value for attempt in attempts]
    arrays[Attempt._fields.index("outcome")] = outcomes
    conn.exec_driver_sql(_PG_RECORD, (*arrays, statuses, now, prune_before))


def _record_sqlite(
    conn: Connection, attempts: Sequence[Attempt], now: datetime, prune_before: datetime
) -> None:
    # Driver-level statements with the timestamps already in SQLite's text form: the
    # compiled SQLAlchemy statements spent more on binding each row than SQLite on it.
    delivered_at = utc_to_sqlite(now)
    delivered = AttemptOutcome.DELIVERED
    conn.exec_driver_sql(
        _SQLITE_UPDATE,
        [
            (
                _NOTIFICATION_STATUS[attempt.outcome],
                delivered_at if attempt.outcome is delivered else None,
                utc_to_sqlite(attempt.next_attempt_at),
                attempt.error,
                attempt.attempt if attempt.sent else attempt.attempt - 1,
                attempt.notification_id,
            )
            for attempt in attempts
        ],
    )
    conn.exec_driver_sql(
        _SQLITE_INSERT_ATTEMPTS,
        [
            (
                attempt.notification_id,
                attempt.channel_id,
                attempt.attempt,
                utc_to_sqlite(attempt.started_at),
                attempt.duration_ms,
                attempt.outcome.value,
                attempt.http_status,
                attempt.error,
            )
            for attempt in attempts
        ],
    )
    conn.exec_driver_sql(_SQLITE_PRUNE, (utc_to_sqlite(prune_before),))


async def list_attempts(
    conn: AsyncConnection,
    *,
    channel_id: int | None = None,
    notification_id: int | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AttemptRecord]:
    """Stored attempts, newest first, optionally of one channel and/or notification.

    ``before_id`` pages: pass the last id of the previous page to get the next.
    """
    query = select(delivery_attempts).order_by(delivery_attempts.c.id.desc()).limit(limit)
    if channel_id is not None:
        query = query.where(delivery_attempts.c.channel_id == channel_id)
    if notification_id is not None:
        query = query.where(delivery_attempts.c.notification_id == notification_id)
    if before_id is not None:
        query = query.where(delivery_attempts.c.id < before_id)
    rows = (await conn.execute(query)).all()
    return [
        AttemptRecord(
            id=row.id,
            notification_id=row.notification_id,
            channel_id=row.channel_id,
            attempt=row.attempt,
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            outcome=AttemptOutcome(row.outcome),
            http_status=row.http_status,
            error=row.error,
        )
        for row in rows
    ]


# Columns of delivery_attempts filled from an Attempt: its fields up to next_attempt_at.
_ATTEMPT_COLUMNS = Attempt._fields[: Attempt._fields.index("next_attempt_at")]
_PG_ARRAY_TYPES: dict[type[Any], str] = {
    BigInteger: "int8",
    Integer: "int4",
    SmallInteger: "int2",
    String: "varchar",
    Text: "text",
    UTCDateTime: "timestamptz",
}

# SQLite's statements, parameters by position (``?``); only our own column names
# enter the text.
_SQLITE_UPDATE = (
    "UPDATE notifications SET status = ?, delivered_at = ?, "
    "next_attempt_at = coalesce(?, next_attempt_at), last_error = ?, claimed_until = NULL, "
    "attempts = ? WHERE id = ?"
)
_SQLITE_INSERT_ATTEMPTS = (
    f"INSERT INTO delivery_attempts ({', '.join(_ATTEMPT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _ATTEMPT_COLUMNS)})"
)
_SQLITE_PRUNE = "DELETE FROM delivery_attempts WHERE started_at < ?"
_RELEASE = (
    update(notifications)
    .where(
        notifications.c.id == bindparam("r_id"),
        notifications.c.status == NotificationStatus.PENDING.value,
    )
    .values(claimed_until=None, attempts=bindparam("r_attempts"))
)
# Ids per statement in the hand-off's queries (well under SQLite's variable limit).
_CHUNK = 500


def _pg_record_statement() -> str:
    """The PostgreSQL statement: unnest the attempts once, update their notifications,
    prune, insert the attempts. Data-modifying ``WITH`` clauses run exactly once whether
    or not the main statement reads them."""
    names = (*Attempt._fields, "status")
    types = (
        *(_PG_ARRAY_TYPES[delivery_attempts.c[name].type.__class__] for name in _ATTEMPT_COLUMNS),
        "timestamptz",  # next_attempt_at
        "bool",  # sent
        "varchar",  # the notification's new status
    )
    arrays = ", ".join(f"${i}::{pg_type}[]" for i, pg_type in enumerate(types, start=1))
    now, prune_before = len(names) + 1, len(names) + 2
    columns = ", ".join(_ATTEMPT_COLUMNS)
    return (
        # Only our own column names and placeholders enter the text, never a value.
        f"WITH done AS (SELECT * FROM unnest({arrays}) AS u({', '.join(names)})), "  # noqa: S608
        "updated AS (UPDATE notifications AS n SET status = done.status, "
        f"delivered_at = CASE WHEN done.outcome = 'delivered' THEN ${now}::timestamptz END, "
        "next_attempt_at = coalesce(done.next_attempt_at, n.next_attempt_at), "
        "last_error = done.error, claimed_until = NULL, "
        "attempts = CASE WHEN done.sent THEN done.attempt ELSE done.attempt - 1 END "
        "FROM done WHERE n.id = done.notification_id), "
        f"pruned AS (DELETE FROM delivery_attempts WHERE started_at < ${prune_before}) "
        f"INSERT INTO delivery_attempts ({columns}) SELECT {columns} FROM done"
    )


_PG_RECORD = _pg_record_statement()

__all__ = [
    "ATTEMPT_RETENTION",
    "Attempt",
    "AttemptOutcome",
    "AttemptRecord",
    "Released",
    "claim_due",
    "extend_claims",
    "list_attempts",
    "next_attempt_at",
    "record_attempts",
    "release",
]
