"""The outbox worker: claims due notifications, sends them, records every attempt.

Claiming sets ``claimed_until`` with a compare-and-set, so several server processes (or a
restarted one) never send the same attempt twice while a claim is fresh; a process killed
mid-send leaves a claim that expires, and the alert is sent again (at least once; the
idempotency key lets the receiver drop the duplicate).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection

from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels import channel_for
from tocsin.server.alerts.outbox import ClaimedAlert
from tocsin.server.background import cancel_and_wait, wait_event
from tocsin.server.domain.states import CLAIM_SECONDS, NotificationStatus
from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import channels, notifications

logger = logging.getLogger(__name__)

# Seconds to wait before attempt 2, 3, ...; the last entry repeats.
BACKOFF_SECONDS = (5, 30, 120, 600, 1800, 3600)
MAX_ATTEMPTS = 8
IDLE_POLL_SECONDS = 5.0


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    index = min(max(attempts - 1, 0), len(BACKOFF_SECONDS) - 1)
    return timedelta(seconds=BACKOFF_SECONDS[index])


class DeliveryWorker:
    """Sends due notifications with bounded concurrency."""

    def __init__(
        self,
        database: Database,
        *,
        concurrency: int = 100,
        batch_size: int = 500,
        on_result: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.database = database
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.on_result = on_result
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(concurrency)

    def wake(self) -> None:
        """Notifications may be due: look now instead of at the next poll."""
        self._wake.set()

    def send(self, alerts: list[ClaimedAlert]) -> None:
        """Send notifications this process just wrote, already claimed for it."""
        if not alerts or self._task is None or self._session is None:
            return  # not running: the claims expire and the poll sends them later
        task = asyncio.create_task(self._deliver(alerts))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def start(self) -> None:
        """Start the worker task."""
        self._task = asyncio.create_task(self._run(), name="tocsin-delivery")

    async def stop(self) -> None:
        """Stop after the current batch; unsent claims expire and are retried later."""
        await cancel_and_wait(self._task)
        self._task = None
        for task in list(self._sending):
            await cancel_and_wait(task)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.concurrency, ttl_dns_cache=10)
        # No cookie jar: a receiver's cookies must not ride along on later alerts (and
        # keeping them costs time on every request).
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        )
        while True:
            self._wake.clear()
            try:
                claimed = await self.database.run_write(self._claim, datetime.now(UTC))
            except Exception:
                logger.exception("claiming notifications failed")
                claimed = []
            if claimed:
                # Send in the background and look for more at once: a slow receiver must not
                # hold back alerts that became due meanwhile.
                task = asyncio.create_task(self._deliver(claimed))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
                continue
            try:
                await wait_event(self._wake, await self._seconds_to_next())
            except Exception:
                logger.exception("delivery wait failed")
                await asyncio.sleep(1)

    async def _seconds_to_next(self) -> float:
        async with self.database.read() as conn:
            next_at = (
                await conn.execute(
                    select(func.min(notifications.c.next_attempt_at)).where(
                        notifications.c.status == NotificationStatus.PENDING.value,
                        notifications.c.claimed_until.is_(None),
                    )
                )
            ).scalar()
        if next_at is None:
            return IDLE_POLL_SECONDS
        if isinstance(next_at, str):
            next_at = datetime.fromisoformat(next_at)
        if next_at.tzinfo is None:
            next_at = next_at.replace(tzinfo=UTC)
        seconds = (next_at - datetime.now(UTC)).total_seconds()
        return float(min(max(seconds, 0.05), IDLE_POLL_SECONDS))

    async def _deliver(self, claimed: list[ClaimedAlert]) -> None:
        """Send claimed notifications and record every attempt."""
        results: list[DeliveryError | None] = [None] * len(claimed)
        pending = iter(range(len(claimed)))

        async def sender() -> None:
            # A few senders taking turns instead of a task per alert: a burst of 1,000
            # alerts would otherwise create 1,000 tasks that mostly wait for a slot.
            for index in pending:
                results[index] = await self._send(claimed[index])

        await asyncio.gather(*(sender() for _ in range(min(len(claimed), self.concurrency))))
        try:
            outcomes = list(zip(claimed, results, strict=True))
            await self.database.run_write(self._record, outcomes, datetime.now(UTC))
        except Exception:  # the claims expire and the alerts are sent again
            logger.exception("recording deliveries failed count=%d", len(claimed))
        if self.on_result is not None:
            for item, error in zip(claimed, results, strict=True):
                self.on_result(item.kind, error is None)
        if any(error is not None for error in results):
            self._wake.set()  # a retry now has a due time: let the claim loop see it

    def _claim(self, conn: Connection, now: datetime) -> list[ClaimedAlert]:
        due = and_(
            notifications.c.status == NotificationStatus.PENDING.value,
            notifications.c.next_attempt_at <= now,
            or_(notifications.c.claimed_until.is_(None), notifications.c.claimed_until < now),
        )
        query = (
            select(
                notifications.c.id,
                channels.c.kind,
                channels.c.settings,
                notifications.c.payload,
                notifications.c.idempotency_key,
                notifications.c.attempts,
            )
            .join(channels, channels.c.id == notifications.c.channel_id)
            .where(due)
            .order_by(notifications.c.id)
            .limit(self.batch_size)
        )
        if not self.database.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=notifications)
        rows = conn.execute(query).all()
        if not rows:
            return []
        ids = [row[0] for row in rows]
        conn.execute(
            update(notifications)
            .where(notifications.c.id.in_(ids), due)
            .values(
                claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
                attempts=notifications.c.attempts + 1,
            )
        )
        return [
            ClaimedAlert(row[0], row[1], dict(row[2]), dict(row[3]), row[4], row[5] + 1)
            for row in rows
        ]

    async def _send(self, item: ClaimedAlert) -> DeliveryError | None:
        assert self._session is not None
        async with self._limit:
            try:
                await channel_for(item.kind).send(
                    self._session, item.settings, item.payload, item.idempotency_key
                )
            except DeliveryError as exc:
                return exc
            except Exception as exc:  # a sender bug must not stop the other alerts
                logger.exception("channel sender crashed notification=%s", item.id)
                return DeliveryError(f"{type(exc).__name__}: {exc}")
        return None

    def _record(
        self,
        conn: Connection,
        outcomes: list[tuple[ClaimedAlert, DeliveryError | None]],
        now: datetime,
    ) -> None:
        rows: list[dict[str, object]] = []
        for item, error in outcomes:
            row: dict[str, object] = {
                "n_id": item.id,
                "n_status": NotificationStatus.PENDING.value,
                "n_delivered_at": None,
                "n_next": None,
                "n_error": str(error) if error else None,
            }
            if error is None:
                row |= {"n_status": NotificationStatus.DELIVERED.value, "n_delivered_at": now}
                logger.info("alert delivered notification=%s attempt=%d", item.id, item.attempts)
            elif error.permanent or item.attempts >= MAX_ATTEMPTS:
                row["n_status"] = NotificationStatus.FAILED.value
                logger.warning("alert failed notification=%s error=%s", item.id, error)
            else:
                row["n_next"] = now + backoff(item.attempts)
                logger.info("alert will be retried notification=%s error=%s", item.id, error)
            rows.append(row)
        conn.execute(_RECORD, rows)


_RECORD = (
    update(notifications)
    .where(notifications.c.id == bindparam("n_id"))
    .values(
        status=bindparam("n_status"),
        delivered_at=bindparam("n_delivered_at"),
        next_attempt_at=func.coalesce(bindparam("n_next"), notifications.c.next_attempt_at),
        last_error=bindparam("n_error"),
        claimed_until=None,
    )
)
