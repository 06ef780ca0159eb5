"""What the scheduler runs: a ``ProbeJob`` per monitor, and what a run produced.

A job says what to probe (an ``HttpTarget`` for ``http`` and ``app`` monitors, a
``TcpTarget`` for ``tcp``), how often, and under which host key the per-host cap counts
it. The scheduler never performs I/O itself: it calls an ``Execute`` function, normally
``probe_executor(session)``, which runs the right probe runner for the target.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from tocsin.server.domain.observations import Observation
from tocsin.server.probes.http_client import ProbeClient
from tocsin.server.probes.http_probe import run_http_probe
from tocsin.server.probes.targets import DEFAULT_TIMEOUT, HttpTarget
from tocsin.server.probes.tcp_probe import run_tcp_probe

MIN_INTERVAL = timedelta(seconds=1)


@dataclass(frozen=True)
class TcpTarget:
    """One TCP connection a ``tcp`` monitor opens (optionally completing a TLS handshake)."""

    host: str
    port: int
    timeout: timedelta = DEFAULT_TIMEOUT
    tls: bool = False
    verify_tls: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError("port must be between 1 and 65535")
        if self.timeout <= timedelta(0):
            raise ValueError("timeout must be positive")


@dataclass(frozen=True)
class ProbeJob:
    """A monitor's probe as the scheduler sees it.

    - ``interval``: time between checks (at least 1 s).
    - ``retry_interval``: time between checks while the monitor is failing but not yet
      confirmed down (``ProbeScheduler.set_retrying``); ``None``: the same as ``interval``.
    - ``host``: the key the per-host cap counts the job under; empty means the target's
      host name (lower-case, without the port).
    - ``jitter``: each run starts up to this much after its slot, at random; shorter than
      both intervals.
    """

    monitor_id: int
    target: HttpTarget | TcpTarget
    interval: timedelta
    retry_interval: timedelta | None = None
    host: str = field(default="")
    jitter: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.interval < MIN_INTERVAL:
            raise ValueError("interval must be at least 1 s")
        if self.retry_interval is not None and self.retry_interval < MIN_INTERVAL:
            raise ValueError("retry_interval must be at least 1 s")
        if self.jitter < timedelta(0):
            raise ValueError("jitter must not be negative")
        if self.jitter >= min(self.interval, self.retry_interval or self.interval):
            raise ValueError("jitter must be shorter than the interval and the retry interval")
        if not self.host:
            object.__setattr__(self, "host", target_host(self.target))

    def interval_for(self, retrying: bool) -> timedelta:
        """The time between checks, while retrying or not."""
        if retrying and self.retry_interval is not None:
            return self.retry_interval
        return self.interval


def target_host(target: HttpTarget | TcpTarget) -> str:
    """The host name a target reaches, lower-case, as the per-host cap counts it."""
    if isinstance(target, TcpTarget):
        return target.host.lower()
    return urlsplit(target.url).hostname or target.url


@dataclass(frozen=True)
class ProbeOutcome:
    """One finished run: the job as it was when the run started, and what it saw.

    ``scheduled_at`` is the slot the run belonged to (jitter included), ``started_at`` when
    it actually began; ``lateness`` is the gap between the two, measured on the monotonic
    clock. ``on_demand`` marks runs started by ``run_now`` rather than by the schedule.
    """

    job: ProbeJob
    observation: Observation
    scheduled_at: datetime
    started_at: datetime
    lateness: timedelta
    on_demand: bool = False


# Runs one job's probe, started at the given UTC time; reports failures as data.
Execute = Callable[[ProbeJob, datetime], Awaitable[Observation]]


def probe_executor(
    client: ProbeClient, *, tcp_ssl_context: ssl.SSLContext | None = None
) -> Execute:
    """An ``Execute`` running HTTP targets with ``client`` and TCP targets with
    ``run_tcp_probe`` (``tcp_ssl_context``: trust for verified TLS)."""

    async def execute(job: ProbeJob, now: datetime) -> Observation:
        target = job.target
        if isinstance(target, TcpTarget):
            return await run_tcp_probe(
                target.host,
                target.port,
                timeout=target.timeout,
                tls=target.tls,
                verify_tls=target.verify_tls,
                now=now,
                ssl_context=tcp_ssl_context,
            )
        return await run_http_probe(client, target, now=now)

    return execute
