"""Prometheus metrics of the server, on a registry of its own (one per app instance)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from tocsin.server.domain.transitions import Flip
from tocsin.server.ingest.requests import PingOutcome, PingRequest
from tocsin.server.ingest.writer import BatchResult
from tocsin.server.probes.engine import ProbeBatchResult
from tocsin.server.probes.scheduler_stats import SchedulerStats
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import count_by_state
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
        self.probe_results = Counter(
            "tocsin_probe_results",
            "Probe results stored, by verdict",
            ["verdict"],
            registry=self.registry,
        )
        self.probe_write = Histogram(
            "tocsin_probe_batch_write_seconds",
            "Time to write one batch of probe results (one transaction)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
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

    def probe_batch(self, result: ProbeBatchResult) -> None:
        """Count a committed probe result batch: results by verdict, its write time."""
        for verdict, count in result.verdicts.items():
            self.probe_results.labels(verdict).inc(count)
        self.probe_write.observe(result.write_seconds)
        self._flips(result.flips, len(result.alerts))

    def watch_probes(self, stats: Callable[[], SchedulerStats | None]) -> None:
        """Render the probe scheduler's counters, read from ``stats`` at each scrape."""
        self.registry.register(_SchedulerCollector(stats))

    def delivery(self, channel: str, delivered: bool) -> None:
        """Count one delivery attempt."""
        self.alerts_sent.labels(channel, "delivered" if delivered else "failed").inc()

    async def render(self, database: Database) -> bytes:
        """The exposition text, with monitor counts read from the database now."""
        async with database.read() as conn:
            counts = await count_by_state(conn)
        for state, count in counts.items():
            self.monitors.labels(state.value).set(count)
        return generate_latest(self.registry)


class _SchedulerCollector(Collector):
    """The probe scheduler's own counters (runs, skips, lateness), as it keeps them."""

    def __init__(self, stats: Callable[[], SchedulerStats | None]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        """The metrics of the scheduler's snapshot now (none before it starts)."""
        stats = self.stats()
        if stats is None:
            return
        counters = {
            "runs": ("Probe runs finished", stats.runs),
            "skips": (
                "Probe slots skipped (previous run still going, or fell behind)",
                stats.skips,
            ),
            "errors": ("Probe runs that raised (a bug: failures are data)", stats.errors),
            "write_errors": ("Probe result batches whose write failed", stats.write_errors),
            "dropped_results": ("Probe outcomes dropped: result queue full", stats.dropped_results),
        }
        for name, (text, value) in counters.items():
            yield CounterMetricFamily(f"tocsin_probe_{name}", text, value=value)
        gauges = {
            "jobs": ("Probe monitors this server schedules", stats.jobs),
            "probing": ("Probe runs in progress", stats.probing),
            "waiting": ("Probe runs waiting for a concurrency slot", stats.waiting),
        }
        for name, (text, value) in gauges.items():
            yield GaugeMetricFamily(f"tocsin_probe_{name}", text, value=value)
        late = stats.lateness
        cumulative = list(itertools.accumulate(late.counts))
        buckets = [(str(b), c) for b, c in zip(late.bounds, cumulative, strict=False)]
        buckets.append(("+Inf", late.total))
        yield HistogramMetricFamily(
            "tocsin_probe_lateness_seconds",
            "How late probe runs started (actual start - scheduled start)",
            buckets=buckets,
            sum_value=late.sum_seconds,
        )
        yield GaugeMetricFamily(
            "tocsin_probe_lateness_max_seconds",
            "The latest start of a probe run so far",
            value=late.max_seconds,
        )
