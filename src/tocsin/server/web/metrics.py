"""Prometheus metrics of the server, on a registry of its own (one per app instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.ingest.requests import PingOutcome, PingRequest
from tocsin.server.ingest.writer import BatchResult
from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import monitors
from tocsin.server.watch.deadlines import DeadlineResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STORED = (PingOutcome.OK, PingOutcome.CREATED)


class ServerMetrics:
    """Counters the engines feed, rendered at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pings = Counter(
            "tocsin_pings_received", "Pings stored, by kind", ["kind"], registry=self.registry
        )
        self.batch_size = Histogram(
            "tocsin_ping_writer_batch_size",
            "Pings per group-commit transaction",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
            registry=self.registry,
        )
        self.flips = Counter(
            "tocsin_flips", "State changes, by new state", ["state"], registry=self.registry
        )
        self.alerts_queued = Counter(
            "tocsin_alerts_queued", "Notifications written to the outbox", registry=self.registry
        )
        self.alerts_sent = Counter(
            "tocsin_alerts_sent",
            "Delivery attempts, by channel kind and result",
            ["channel", "result"],
            registry=self.registry,
        )
        self.monitors = Gauge(
            "tocsin_monitors", "Monitors, by state", ["state"], registry=self.registry
        )

    def ping_batch(self, result: BatchResult, batch: list[PingRequest]) -> None:
        """Count a committed ping batch."""
        self.batch_size.observe(len(batch))
        stored: dict[str, int] = {}
        for request in batch:
            if request.done.done() and request.done.result() in STORED:
                stored[request.kind.value] = stored.get(request.kind.value, 0) + 1
        for kind, count in stored.items():
            self.pings.labels(kind).inc(count)
        self._flips(result.flips, len(result.alerts))

    def deadlines_fired(self, result: DeadlineResult) -> None:
        """Count what a deadline pass did."""
        self._flips(result.flips, len(result.alerts))

    def _flips(self, flips: list[Flip], alerts: int) -> None:
        for flip in flips:
            self.flips.labels(flip.new_state.value).inc()
        if alerts:
            self.alerts_queued.inc(alerts)

    def delivery(self, channel: str, delivered: bool) -> None:
        """Count one delivery attempt."""
        self.alerts_sent.labels(channel, "delivered" if delivered else "failed").inc()

    async def render(self, database: Database) -> bytes:
        """The exposition text, with monitor counts read from the database now."""
        async with database.read() as conn:
            rows = (
                await conn.execute(
                    select(monitors.c.state, func.count()).group_by(monitors.c.state)
                )
            ).all()
        counts = dict.fromkeys(MonitorState, 0)
        for state, count in rows:
            counts[MonitorState(state)] = count
        for state, count in counts.items():
            self.monitors.labels(state.value).set(count)
        return generate_latest(self.registry)
