"""The delivery worker: sends claimed notifications and records every attempt.

Alerts reach it two ways: ``send`` takes the notifications this process has just written
(already claimed for it), and the claim loop claims retries that fell due and alerts
whose claim expired (their process died before sending). A claim is a compare-and-set
on ``claimed_until`` and lasts ``claim_seconds`` (``TOCSIN_ALERT_CLAIM_SECONDS``), so
several server processes (or a restarted one) never send the same attempt twice while a
claim is fresh; delivery is at least once, and the ``Idempotency-Key`` lets a receiver
drop a duplicate.

Alerts of one channel and monitor leave in the order they were written and one at a
time: the claim loop only ever gets the oldest pending one of each pair, and an alert
handed over from a flip waits for the pair's earlier alerts in this process
(``delivery_order``); if an earlier one is pending elsewhere (in backoff, or with
another process) it is given back unsent and claimed once that one is done.

Channels are isolated from each other: a channel has at most ``per_channel`` sends in
flight and its alerts queue behind its own, never behind another channel's, so a hung
receiver delays only its own alerts. A channel's first send in flight uses a slot of its
own; the others share a pool of ``concurrency`` (``send_slots``), so channels that hang
can fill the pool but never stop another channel's alerts. The claim loop
leaves channels that are at their cap alone, and an alert that waited half its claim
for a turn is not sent then but noted and retried later, without using up one of its
attempts: a claim never runs out under an alert that is still queued here.

Each batch of a channel's sends ends with one write (``record_attempts``): a
``delivery_attempts`` row per attempt and the notifications' new state; the records of
batches that end together share one transaction (``CoalescedWrites``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tocsin.errors import DeliveryError
from tocsin.logs import log_each_or_count
from tocsin.server.alerts.channels import CHANNELS, Channel, channel_for
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.delivery_order import Chain, Pair, PairOrder, blocked
from tocsin.server.alerts.send_slots import ChannelSlot, SendSlots
from tocsin.server.background import cancel_and_wait, wait_event
from tocsin.server.domain.states import CLAIM_SECONDS
from tocsin.server.storage.claimed import ClaimedAlert
from tocsin.server.storage.coalesced_writes import CoalescedWrites
from tocsin.server.storage.database import Database
from tocsin.server.storage.deliveries import (
    Attempt,
    AttemptOutcome,
    Released,
    cap_error,
    claim_due,
    extend_claims,
    next_attempt_at,
    record_attempts,
)

logger = logging.getLogger(__name__)

# Seconds to wait before attempt 2, 3, ...; the last entry repeats.
BACKOFF_SECONDS = (5, 30, 120, 600, 1800, 3600)
# Each wait is lengthened by up to this share, drawn per attempt: alerts that failed
# together (their receiver was down) come back spread out, not all in one second.
BACKOFF_JITTER = 0.2
MAX_ATTEMPTS = 8
IDLE_POLL_SECONDS = 5.0
NO_BLOCKED: frozenset[int] = frozenset()


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    index = min(max(attempts - 1, 0), len(BACKOFF_SECONDS) - 1)
    return timedelta(seconds=BACKOFF_SECONDS[index])


@dataclass
class _Channel:
    """A channel's share of the pool: its cap on sends in flight, its own send slot and
    its alerts queued or in flight."""

    slots: asyncio.Semaphore
    own: ChannelSlot = field(default_factory=ChannelSlot)
    queued: int = 0


@dataclass(frozen=True)
class _Sent:
    """What happened to one send (``sent`` false: it waited too long and was not sent)."""

    started_at: datetime
    seconds: float
    error: DeliveryError | None
    http_status: int | None
    sent: bool = True


@dataclass
class _Batch:
    """What one channel batch did: its attempts and the alerts it gave back unsent."""

    attempts: list[tuple[ClaimedAlert, Attempt]]
    released: list[Released]


class DeliveryWorker:
    """Sends claimed notifications, at most ``per_channel`` at a time per channel, each
    channel's first in a slot of its own and the others in a pool of ``concurrency``
    shared slots, each channel and monitor's in order; an alert not started
    within ``queue_seconds`` (default: half of ``claim_seconds``) of being queued is
    noted and retried instead. ``channels`` are the senders by kind: a server passes
    ``senders(settings.smtp)`` so email alerts reach its SMTP server."""

    def __init__(
        self,
        database: Database,
        *,
        concurrency: int = 400,
        per_channel: int = 20,
        batch_size: int = 500,
        claim_seconds: float = CLAIM_SECONDS,
        queue_seconds: float | None = None,
        on_result: Callable[[str, bool], None] | None = None,
        channels: Mapping[str, Channel] = CHANNELS,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.database = database
        self.channels = channels
        self.concurrency = concurrency
        self.per_channel = per_channel
        self.batch_size = batch_size
        self.claim_seconds = claim_seconds
        self.queue_seconds = claim_seconds / 2 if queue_seconds is None else queue_seconds
        self.on_result = on_result
        self._rng = rng  # backoff jitter draws, in [0, 1)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: HttpClient | None = None
        self._sending: set[asyncio.Task[object]] = set()
        self._slots = SendSlots(concurrency)
        self._channels: dict[int, _Channel] = {}
        self._passed_over: frozenset[int] = frozenset()
        self._order = PairOrder()
        # Batches that end while another's record is being written share the next write.
        self._records = CoalescedWrites(database, record_attempts)
        # Pairs with alerts given back to wait for an earlier one: when that one is done
        # here, the claim loop looks for them at once.
        self._waiting: set[Pair] = set()

    def send(self, alerts: list[ClaimedAlert]) -> None:
        """Send notifications this process just wrote, already claimed for it (each
        after the older ones of its channel and monitor)."""
        if not alerts or self._task is None or self._client is None:
            return  # not running: the claims expire and the claim loop sends them later
        # The outbox read, in the flip's own statement, which older alerts of each pair
        # were pending; those this process holds go first here, the others block.
        older = [(alert.id, older_id) for alert in alerts for older_id in alert.older_pending]
        waiting = blocked(alerts, older, self._order.known(alerts))
        gate = None
        if self.claim_seconds != CLAIM_SECONDS:  # the outbox claimed for CLAIM_SECONDS
            gate = asyncio.create_task(self._extend_claims(alerts, waiting))
            self._track(gate)
        self._dispatch(alerts, waiting, gate, handed=True)

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
        claim expires (``claim_seconds`` after it was taken); then this server, restarted,
        or another one claims and sends it again with the same ``Idempotency-Key`` (the
        receiver may have got the cancelled one).
        """
        await cancel_and_wait(self._task)
        self._task = None
        for task in list(self._sending):
            await cancel_and_wait(task)
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _track(self, task: asyncio.Task[object]) -> None:
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _extend_claims(
        self, alerts: list[ClaimedAlert], waiting: frozenset[int]
    ) -> frozenset[int]:
        """Make the claims of the handed-over alerts that may leave last ``claim_seconds``;
        the alerts held back (``waiting``, or all of them if that failed)."""
        try:
            until = datetime.now(UTC) + timedelta(seconds=self.claim_seconds)
            ids = [alert.id for alert in alerts if alert.id not in waiting]
            await self.database.run_write(extend_claims, ids, until)
        except Exception:  # given back: the claim loop sends them in order
            logger.exception("extending the claims of alerts failed count=%d", len(alerts))
            return frozenset(alert.id for alert in alerts)
        return waiting

    def _dispatch(
        self,
        alerts: list[ClaimedAlert],
        waiting: frozenset[int] = NO_BLOCKED,
        gate: asyncio.Task[frozenset[int]] | None = None,
        *,
        handed: bool = False,
    ) -> None:
        """Queue ``alerts`` behind their own channels' earlier ones. ``waiting``: those
        that must not be sent now (``gate``, if any, tells them instead once it is done);
        ``handed``: they came from a flip in this process, not from the claim loop."""
        send_by = time.monotonic() + self.queue_seconds
        by_channel: dict[int, list[ClaimedAlert]] = {}
        for alert in alerts:
            by_channel.setdefault(alert.channel_id, []).append(alert)
        for channel_id, queued in by_channel.items():
            channel = self._channels.get(channel_id)
            if channel is None:
                channel = self._channels[channel_id] = _Channel(asyncio.Semaphore(self.per_channel))
            channel.queued += len(queued)
            chains = self._order.chains(queued)
            delivery = self._deliver(channel_id, channel, chains, send_by, waiting, gate, handed)
            self._track(asyncio.create_task(delivery))

    def _busy_channels(self) -> frozenset[int]:
        """Channels with a full share of sends queued here: the claim loop leaves them."""
        return frozenset(
            channel_id
            for channel_id, channel in self._channels.items()
            if channel.queued >= self.per_channel
        )

    async def _run(self) -> None:
        # Idle connections kept per origin: enough for every send in flight to reuse one
        # when all go to one host (Slack channels all post to hooks.slack.com).
        self._client = HttpClient(max_idle_per_origin=self.concurrency)
        while True:
            self._wake.clear()
            self._passed_over = busy = self._busy_channels()
            try:
                claimed = await self.database.run_write(
                    claim_due, datetime.now(UTC), self.batch_size, busy, self.claim_seconds
                )
            except Exception:
                logger.exception("claiming notifications failed")
                claimed = []
            if claimed:
                # An alert still being sent here whose claim ran out was claimed again:
                # that renewed the claim, and it must not be sent twice.
                fresh = [alert for alert in claimed if not self._order.holds(alert.id)]
                if fresh:
                    self._dispatch(fresh)
                # Look for more at once: a slow receiver must not hold back alerts that
                # became due meanwhile.
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
        self,
        channel_id: int,
        channel: _Channel,
        chains: list[Chain],
        send_by: float,
        waiting: frozenset[int],
        gate: asyncio.Task[frozenset[int]] | None,
        handed: bool,
    ) -> None:
        """Send one channel's chains, then record every attempt in one write."""
        batch = _Batch([], [])
        pending = iter(chains)

        async def sender() -> None:
            # A few senders taking turns instead of a task per chain: a burst of 1,000
            # alerts would otherwise create 1,000 tasks that mostly wait for a slot.
            for chain in pending:
                try:
                    await self._send_chain(chain, channel, send_by, waiting, gate, batch)
                finally:
                    channel.queued -= len(chain.alerts)

        try:
            try:
                await asyncio.gather(*(sender() for _ in range(min(len(chains), self.per_channel))))
            finally:
                if channel.queued == 0:
                    self._channels.pop(channel_id, None)
            # Delivered, or failed for good: not to be sent again.
            finished = [
                alert
                for alert, attempt in batch.attempts
                if attempt.outcome is not AttemptOutcome.RETRY
            ]
            if await self._record(batch):
                self._order.finish(alert.id for alert in finished)
        finally:
            self._order.forget(chains)
        done = {alert.pair for alert in finished}
        if (
            channel_id in self._passed_over
            or batch.released
            or len(finished) < len(batch.attempts)  # some are retried
            or done & self._waiting
            or (done and not handed)
        ):
            # A retry has a due time, the claim loop left this channel, alerts were given
            # back (the older alert they waited for may be done by now), or later alerts
            # of a pair now done may wait to be claimed (given back here, or written
            # while the claimed one was pending).
            self._waiting -= done
            self._wake.set()

    async def _send_chain(
        self,
        chain: Chain,
        channel: _Channel,
        send_by: float,
        waiting: frozenset[int],
        gate: asyncio.Task[frozenset[int]] | None,
        batch: _Batch,
    ) -> None:
        """Send a pair's alerts one after the other; give back the rest once one of
        them is left pending (or was already held back)."""
        clear = True
        try:
            if chain.after is not None:
                clear = await asyncio.shield(chain.after)
            if gate is not None:
                waiting = await asyncio.shield(gate)
            for alert in chain.alerts:
                if not clear or alert.id in waiting:
                    clear = False
                    batch.released.append(Released(alert.id, alert.attempts - 1))
                    self._waiting.add(chain.pair)
                    continue
                async with channel.slots:
                    sent = await self._send(alert, send_by, channel.own)
                attempt = _attempt(alert, sent, datetime.now(UTC), self._rng())
                batch.attempts.append((alert, attempt))
                clear = attempt.outcome is not AttemptOutcome.RETRY
        finally:
            if not chain.done.done():
                chain.done.set_result(clear)

    async def _record(self, batch: _Batch) -> bool:
        """Record the batch's attempts and the alerts it gave back; whether that worked."""
        attempts = [attempt for _, attempt in batch.attempts]
        recorded = True
        try:
            await self._records.write(attempts, datetime.now(UTC), batch.released)
        except Exception:  # the claims expire and the alerts are sent again
            logger.exception("recording deliveries failed count=%d", len(attempts))
            recorded = False
        _log_attempts(batch.attempts)
        if self.on_result is not None:
            for alert, attempt in batch.attempts:
                if attempt.sent:
                    self.on_result(alert.kind, attempt.outcome is AttemptOutcome.DELIVERED)
        return recorded

    async def _send(self, alert: ClaimedAlert, send_by: float, own: ChannelSlot) -> _Sent:
        assert self._client is not None
        shared = await self._slots.acquire(own)
        try:
            started_at, started = datetime.now(UTC), time.monotonic()
            if started > send_by:
                waited = DeliveryError(
                    f"not sent: waited {self.queue_seconds:g} s behind this channel's other alerts"
                )
                return _Sent(started_at, 0.0, waited, None, sent=False)
            try:
                status = await channel_for(alert.kind, self.channels).send(
                    self._client, alert.settings, alert.payload, alert.idempotency_key
                )
                error = None
            except DeliveryError as exc:
                status, error = exc.http_status, exc
            except Exception as exc:  # a sender bug must not stop the other alerts
                logger.exception("channel sender crashed notification=%s", alert.id)
                status, error = None, DeliveryError(f"{type(exc).__name__}: {exc}")
        finally:
            self._slots.release(own, shared)
        return _Sent(started_at, time.monotonic() - started, error, status)


def _log_attempts(attempts: list[tuple[ClaimedAlert, Attempt]]) -> None:
    """A line per alert delivered, to be retried or failed for good (at WARNING), or a
    count for each when one channel's batch had many: a receiver that refuses a burst
    logs one warning, not one per alert."""
    if not attempts:
        return
    channel_id = attempts[0][0].channel_id
    delivered = [
        (alert.id, alert.attempts)
        for alert, attempt in attempts
        if attempt.outcome is AttemptOutcome.DELIVERED
    ]
    log_each_or_count(
        logger,
        "alert delivered notification=%s attempt=%d",
        delivered,
        f"alerts delivered channel_id={channel_id} count={len(delivered)}",
    )
    _log_errors(channel_id, attempts, AttemptOutcome.RETRY, "will be retried", logging.INFO)
    _log_errors(channel_id, attempts, AttemptOutcome.FAILED, "failed", logging.WARNING)


def _log_errors(
    channel_id: int,
    attempts: list[tuple[ClaimedAlert, Attempt]],
    outcome: AttemptOutcome,
    what: str,
    level: int,
) -> None:
    """``alert {what}`` with its error for each of channel ``channel_id``'s attempts with
    ``outcome``, or a count with the first error (see ``log_each_or_count``)."""
    rows = [(alert.id, attempt.error) for alert, attempt in attempts if attempt.outcome is outcome]
    log_each_or_count(
        logger,
        f"alert {what} notification=%s error=%s",
        rows,
        f"alerts {what} channel_id={channel_id} count={len(rows)} "
        f"first error={rows[0][1] if rows else None}",
        level,
    )


def _attempt(alert: ClaimedAlert, sent: _Sent, now: datetime, draw: float) -> Attempt:
    """The row recording ``sent``, with the outcome it leads to. A send that did not
    happen is a retry that does not count among the ``MAX_ATTEMPTS``; a retry waits its
    backoff (or the receiver's ``Retry-After``, if longer), lengthened by ``draw`` (in
    [0, 1)) times ``BACKOFF_JITTER``."""
    error, next_at = sent.error, None
    real_sends = alert.attempts if sent.sent else alert.attempts - 1
    if error is None:
        outcome = AttemptOutcome.DELIVERED
    elif sent.sent and (error.permanent or real_sends >= MAX_ATTEMPTS):
        outcome = AttemptOutcome.FAILED
    else:
        # Never sooner than the receiver asked (Retry-After), nor sooner than the backoff.
        wait = max(backoff(real_sends), timedelta(seconds=error.retry_after or 0))
        outcome, next_at = AttemptOutcome.RETRY, now + wait * (1 + BACKOFF_JITTER * draw)
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
        sent=sent.sent,
    )


__all__ = ["BACKOFF_JITTER", "BACKOFF_SECONDS", "MAX_ATTEMPTS", "DeliveryWorker", "backoff"]
