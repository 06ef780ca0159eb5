"""The delivery worker: sends claimed notifications and records every attempt.

Alerts reach it two ways: ``send`` takes the notifications this process has just written
(already claimed for it), and the claim loop claims retries that fell due and alerts
whose claim expired (their process died before sending). A claim is a compare-and-set
on ``claimed_until``, so several server processes (or a restarted one) never send the
same attempt twice while a claim is fresh; delivery is at least once, and the
``Idempotency-Key`` lets a receiver drop a duplicate.

Channels are isolated from each other: a channel has at most ``per_channel`` sends in
flight (within the global ``concurrency``) and its alerts queue behind its own, never
behind another channel's, so a hung receiver delays only its own alerts. The claim loop
leaves channels that are at their cap alone, and an alert that waited half its claim
for a turn is not sent then but recorded as a retry: a claim never runs out under an
alert that is still queued here.

Each batch of a channel's sends ends with one write (``record_attempts``): a
``delivery_attempts`` row per attempt and the notifications' new state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp

from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels import CHANNELS, Channel, channel_for
from tocsin.server.alerts.outbox import ClaimedAlert
from tocsin.server.background import cancel_and_wait, wait_event
from tocsin.server.domain.states import CLAIM_SECONDS
from tocsin.server.storage.database import Database
from tocsin.server.storage.deliveries import (
    Attempt,
    AttemptOutcome,
    cap_error,
    claim_due,
    next_attempt_at,
    record_attempts,
)

logger = logging.getLogger(__name__)

# Seconds to wait before attempt 2, 3, ...; the last entry repeats.
BACKOFF_SECONDS = (5, 30, 120, 600, 1800, 3600)
MAX_ATTEMPTS = 8
IDLE_POLL_SECONDS = 5.0
# By default an alert must start its send within half its claim; the rest is for the send.
QUEUE_SECONDS = CLAIM_SECONDS / 2


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    index = min(max(attempts - 1, 0), len(BACKOFF_SECONDS) - 1)
    return timedelta(seconds=BACKOFF_SECONDS[index])


@dataclass
class _Channel:
    """A channel's share of the pool: its send slots and its alerts queued or in flight."""

    slots: asyncio.Semaphore
    queued: int = 0


@dataclass(frozen=True)
class _Sent:
    """What happened to one send."""

    started_at: datetime
    seconds: float
    error: DeliveryError | None
    http_status: int | None


class DeliveryWorker:
    """Sends claimed notifications, at most ``per_channel`` at a time per channel and
    ``concurrency`` in all; an alert not started within ``queue_seconds`` of being queued
    is recorded as a retry instead. ``channels`` are the senders by kind: a server passes
    ``senders(settings.smtp)`` so email alerts reach its SMTP server."""

    def __init__(
        self,
        database: Database,
        *,
        concurrency: int = 100,
        per_channel: int = 20,
        batch_size: int = 500,
        queue_seconds: float = QUEUE_SECONDS,
        on_result: Callable[[str, bool], None] | None = None,
        channels: Mapping[str, Channel] = CHANNELS,
    ) -> None:
        self.database = database
        self.channels = channels
        self.concurrency = concurrency
        self.per_channel = per_channel
        self.batch_size = batch_size
        self.queue_seconds = queue_seconds
        self.on_result = on_result
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(concurrency)
        self._channels: dict[int, _Channel] = {}
        self._passed_over: frozenset[int] = frozenset()

    def send(self, alerts: list[ClaimedAlert]) -> None:
        """Send notifications this process just wrote, already claimed for it."""
        if not alerts or self._task is None or self._session is None:
            return  # not running: the claims expire and the claim loop sends them later
        self._dispatch(alerts)

    def start(self) -> None:
        """Start the claim loop."""
        self._task = asyncio.create_task(self._run(), name="tocsin-delivery")

    @property
    def running(self) -> bool:
        """Whether the claim loop is alive (started, not stopped and not dead)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop at once: end the claim loop and cancel the sends queued or in flight.

        A cancelled send is not recorded, and its notification stays claimed until the
        claim expires (``CLAIM_SECONDS`` after it was taken); then this server, restarted,
        or another one claims and sends it again with the same ``Idempotency-Key`` (the
        receiver may have got the cancelled one).
        """
        await cancel_and_wait(self._task)
        self._task = None
        for task in list(self._sending):
            await cancel_and_wait(task)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _dispatch(self, alerts: list[ClaimedAlert]) -> None:
        """Queue ``alerts`` behind their own channels' earlier ones."""
        send_by = time.monotonic() + self.queue_seconds
        by_channel: dict[int, list[ClaimedAlert]] = {}
        for alert in alerts:
            by_channel.setdefault(alert.channel_id, []).append(alert)
        for channel_id, queued in by_channel.items():
            channel = self._channels.get(channel_id)
            if channel is None:
                channel = self._channels[channel_id] = _Channel(asyncio.Semaphore(self.per_channel))
            channel.queued += len(queued)
            task = asyncio.create_task(self._deliver(channel_id, channel, queued, send_by))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    def _busy_channels(self) -> frozenset[int]:
        """Channels with a full share of sends queued here: the claim loop leaves them."""
        return frozenset(
            channel_id
            for channel_id, channel in self._channels.items()
            if channel.queued >= self.per_channel
        )

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.concurrency, ttl_dns_cache=10)
        # No cookie jar: a receiver's cookies must not ride along on later alerts (and
        # keeping them costs time on every request).
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        )
        while True:
            self._wake.clear()
            self._passed_over = busy = self._busy_channels()
            try:
                claimed = await self.database.run_write(
                    claim_due, datetime.now(UTC), self.batch_size, busy
                )
            except Exception:
                logger.exception("claiming notifications failed")
                claimed = []
            if claimed:
                # Queue them and look for more at once: a slow receiver must not hold
                # back alerts that became due meanwhile.
                self._dispatch([ClaimedAlert(**row._asdict()) for row in claimed])
                continue
            try:
                await wait_event(self._wake, await self._seconds_to_next(busy))
            except Exception:
                logger.exception("delivery wait failed")
                await asyncio.sleep(1)

    async def _seconds_to_next(self, busy: frozenset[int]) -> float:
        async with self.database.read() as conn:
            next_at = await next_attempt_at(conn, busy)
        if next_at is None:
            return IDLE_POLL_SECONDS
        seconds = (next_at - datetime.now(UTC)).total_seconds()
        return float(min(max(seconds, 0.05), IDLE_POLL_SECONDS))

    async def _deliver(
        self, channel_id: int, channel: _Channel, alerts: list[ClaimedAlert], send_by: float
    ) -> None:
        """Send one channel's alerts, then record every attempt in one write."""
        results: list[_Sent | None] = [None] * len(alerts)
        pending = iter(range(len(alerts)))

        async def sender() -> None:
            # A few senders taking turns instead of a task per alert: a burst of 1,000
            # alerts would otherwise create 1,000 tasks that mostly wait for a slot.
            for index in pending:
                try:
                    async with channel.slots:
                        results[index] = await self._send(alerts[index], send_by)
                finally:
                    channel.queued -= 1

        try:
            await asyncio.gather(*(sender() for _ in range(min(len(alerts), self.per_channel))))
        finally:
            if channel.queued == 0:
                self._channels.pop(channel_id, None)
        now = datetime.now(UTC)
        attempts = []
        for alert, sent in zip(alerts, results, strict=True):
            assert sent is not None  # every sender ran to its end
            attempts.append(_attempt(alert, sent, now))
        try:
            await self.database.run_write(record_attempts, attempts, now)
        except Exception:  # the claims expire and the alerts are sent again
            logger.exception("recording deliveries failed count=%d", len(attempts))
        if self.on_result is not None:
            for alert, attempt in zip(alerts, attempts, strict=True):
                self.on_result(alert.kind, attempt.outcome is AttemptOutcome.DELIVERED)
        retry = any(attempt.outcome is AttemptOutcome.RETRY for attempt in attempts)
        if retry or channel_id in self._passed_over:
            self._wake.set()  # a retry has a due time, or the claim loop left this channel

    async def _send(self, alert: ClaimedAlert, send_by: float) -> _Sent:
        assert self._session is not None
        async with self._limit:
            started_at, started = datetime.now(UTC), time.monotonic()
            if started > send_by:
                waited = DeliveryError(
                    f"not sent: waited {self.queue_seconds:g} s behind this channel's other alerts"
                )
                return _Sent(started_at, 0.0, waited, None)
            try:
                status = await channel_for(alert.kind, self.channels).send(
                    self._session, alert.settings, alert.payload, alert.idempotency_key
                )
                error = None
            except DeliveryError as exc:
                status, error = exc.http_status, exc
            except Exception as exc:  # a sender bug must not stop the other alerts
                logger.exception("channel sender crashed notification=%s", alert.id)
                status, error = None, DeliveryError(f"{type(exc).__name__}: {exc}")
        return _Sent(started_at, time.monotonic() - started, error, status)


def _attempt(alert: ClaimedAlert, sent: _Sent, now: datetime) -> Attempt:
    """The row recording ``sent``, with the outcome it leads to."""
    error, next_at = sent.error, None
    if error is None:
        outcome = AttemptOutcome.DELIVERED
        logger.info("alert delivered notification=%s attempt=%d", alert.id, alert.attempts)
    elif error.permanent or alert.attempts >= MAX_ATTEMPTS:
        outcome = AttemptOutcome.FAILED
        logger.warning("alert failed notification=%s error=%s", alert.id, error)
    else:
        # Never sooner than the receiver asked (Retry-After), nor sooner than the backoff.
        wait = max(backoff(alert.attempts), timedelta(seconds=error.retry_after or 0))
        outcome, next_at = AttemptOutcome.RETRY, now + wait
        logger.info("alert will be retried notification=%s error=%s", alert.id, error)
    return Attempt(
        notification_id=alert.id,
        channel_id=alert.channel_id,
        attempt=alert.attempts,
        started_at=sent.started_at,
        duration_ms=round(sent.seconds * 1000),
        outcome=outcome,
        http_status=sent.http_status,
        error=cap_error(str(error)) if error is not None else None,
        next_attempt_at=next_at,
    )
