"""The server's background engines, and what happens after each of their commits.

``Engines`` builds the ping writer, the deadline watch, the probe engine, the delivery
worker and the ping pruner for one database and wires them together: after a ping batch
commits, the new deadlines go to the watch and the new alerts to the delivery worker;
after a deadline pass or a probe result batch commits, its alerts go to the delivery
worker. The web layer holds one ``Engines`` and only routes to it (``monitor_changed``
after it changes a monitor).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from tocsin.server.alerts.channels import senders
from tocsin.server.alerts.delivery import DeliveryWorker
from tocsin.server.alerts.policy_watch import PolicyResult, PolicyWatch
from tocsin.server.alerts.send_process import SendProcess, process_senders
from tocsin.server.domain.alert_policy import ReminderCaps
from tocsin.server.ingest.pruning import Pruner
from tocsin.server.ingest.requests import PingRequest
from tocsin.server.ingest.writer import BatchResult, PingWriter
from tocsin.server.probes.engine import ProbeBatchResult, ProbeEngine
from tocsin.server.probes.scheduler_stats import SchedulerStats
from tocsin.server.rollup import ResultRollup
from tocsin.server.storage.database import Database
from tocsin.server.watch.deadlines import DeadlineResult, DeadlineWatch
from tocsin.settings import Settings

logger = logging.getLogger(__name__)


class EngineObserver(Protocol):
    """What the engines report as they work (the server's metrics)."""

    def ping_batch(self, result: BatchResult, batch: list[PingRequest]) -> None:
        """A ping batch committed."""

    def deadlines_fired(self, result: DeadlineResult) -> None:
        """A chunk of a deadline pass committed."""

    def delivery(self, channel: str, delivered: bool) -> None:
        """An alert was sent (or failed)."""

    def probe_batch(self, result: ProbeBatchResult) -> None:
        """A probe result batch committed."""

    def watch_probes(self, stats: Callable[[], SchedulerStats | None]) -> None:
        """Where to read the probe scheduler's counters when they are wanted."""


class Engines:
    """The background engines of one server process, started and stopped together."""

    def __init__(self, settings: Settings, database: Database, observer: EngineObserver) -> None:
        self.observer = observer
        # On SQLite, webhook, Slack and Discord alerts leave from a child process (see
        # send_process): there the event loop shares one core with the writer thread. On
        # PostgreSQL the child gained nothing in a burst and the pipe's round trip slowed
        # a single channel's alerts (at most 20 in flight each), so they stay here.
        self.send_process = (
            SendProcess(settings.log_level, settings.log_format) if database.is_sqlite else None
        )
        channels = (
            senders(settings.smtp)
            if self.send_process is None
            else process_senders(self.send_process, settings.smtp)
        )
        self.delivery = DeliveryWorker(
            database,
            channels=channels,
            on_result=observer.delivery,
            claim_seconds=settings.alert_claim_seconds,
        )
        self.watch = DeadlineWatch(
            database,
            base_url=settings.base_url,
            reload_seconds=settings.deadline_reload_seconds,
            on_fired=self.after_deadlines,
        )
        self.policy = PolicyWatch(
            database,
            base_url=settings.base_url,
            caps=ReminderCaps(settings.remind_max, settings.remind_min_interval),
            reload_seconds=settings.deadline_reload_seconds,
            on_sent=self.after_policy,
        )
        self.writer = PingWriter(
            database,
            base_url=settings.base_url,
            batch_max=settings.writer_batch_max,
            concurrency=1 if database.is_sqlite else settings.writer_concurrency,
            max_monitors=settings.max_monitors,
            on_commit=self.after_ping_batch,
        )
        self.probes = ProbeEngine(
            database,
            base_url=settings.base_url,
            on_commit=self.after_probe_batch,
            concurrency=settings.probe_concurrency,
            per_host=settings.probe_per_host,
            reload_seconds=settings.probe_reload_seconds,
            lease_seconds=settings.probe_lease_seconds,
        )
        observer.watch_probes(self.probe_stats)
        self.pruner = Pruner(database, settings.ping_history)
        self.rollup = ResultRollup(database, settings.result_retention)

    def monitor_changed(self, monitor_id: int, deadline: datetime | None) -> None:
        """The API created, changed, paused, resumed or deleted a monitor: the watch
        learns its deadline and the probe engine re-reads its monitors."""
        self.watch.watch(monitor_id, deadline)
        self.probes.refresh()

    def after_ping_batch(self, result: BatchResult, batch: list[PingRequest]) -> None:
        """A ping batch committed: watch its new deadlines, send its alerts, count it."""
        for monitor_id, deadline in result.deadlines.items():
            self.watch.watch(monitor_id, deadline)
        self.delivery.send(result.alerts)
        self.observer.ping_batch(result, batch)

    def after_deadlines(self, result: DeadlineResult) -> None:
        """A chunk of a deadline pass committed: send its alerts, count it."""
        self.delivery.send(result.alerts)
        self.observer.deadlines_fired(result)

    def after_probe_batch(self, result: ProbeBatchResult) -> None:
        """A probe result batch committed: send its alerts, count it."""
        self.delivery.send(result.alerts)
        self.observer.probe_batch(result)

    def after_policy(self, result: PolicyResult) -> None:
        """A policy watch pass committed reminders, escalations or released alerts."""
        self.delivery.send(result.alerts)

    def holds_changed(self) -> None:
        """A silence or maintenance window was added or removed: decide again now."""
        self.policy.poke()

    def probe_stats(self) -> SchedulerStats | None:
        """The probe scheduler's counters now (``None`` before it starts)."""
        scheduler = self.probes.scheduler
        return scheduler.stats() if scheduler is not None else None

    def start(self) -> None:
        """Start every engine."""
        self.writer.start()
        self.watch.start()
        self.policy.start()
        self.delivery.start()
        if self.send_process is not None:
            self.send_process.start()
        self.probes.start()
        self.pruner.start()
        self.rollup.start()

    async def stop(self) -> None:
        """Stop every engine: the writer and the probe engine first write what they have
        queued."""
        await self.pruner.stop()
        await self.rollup.stop()
        await self.probes.stop()
        await self.writer.stop()
        await self.watch.stop()
        await self.policy.stop()
        await self.delivery.stop()
        if self.send_process is not None:
            await self.send_process.close()

    def problems(self) -> list[str]:
        """The engines whose task is not running (empty when all are)."""
        engines = {
            "ping writer": self.writer.running,
            "deadline watch": self.watch.running,
            "policy watch": self.policy.running,
            "probe engine": self.probes.running,
            "delivery worker": self.delivery.running,
            "ping pruner": self.pruner.running,
            "result rollup": self.rollup.running,
        }
        return [name for name, running in engines.items() if not running]

    @property
    def running(self) -> bool:
        """Whether every engine is running."""
        return not self.problems()
