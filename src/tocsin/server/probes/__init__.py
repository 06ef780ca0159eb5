"""Probe runners: perform one HTTP, app or TCP probe and return an ``Observation``.

The runners do I/O only; assertions over their observations live in the pure domain and
scheduling is the caller's. Every runner reports failures as data and never raises for
what a target does.
"""

from tocsin.server.probes.clock import Clock, SystemClock
from tocsin.server.probes.http_client import PROBE_USER_AGENT, ProbeClient
from tocsin.server.probes.http_probe import run_http_probe
from tocsin.server.probes.jobs import (
    MIN_INTERVAL,
    Execute,
    ProbeJob,
    ProbeOutcome,
    TcpTarget,
    probe_executor,
)
from tocsin.server.probes.result_batches import OnResults
from tocsin.server.probes.scheduler import ProbeScheduler
from tocsin.server.probes.scheduler_stats import LatenessSnapshot, SchedulerStats
from tocsin.server.probes.targets import (
    DEFAULT_BODY_LIMIT,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT,
    HEALTH_JSON_ACCEPT,
    HttpTarget,
    app_target,
)
from tocsin.server.probes.tcp_probe import run_tcp_probe

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT",
    "HEALTH_JSON_ACCEPT",
    "MIN_INTERVAL",
    "PROBE_USER_AGENT",
    "Clock",
    "Execute",
    "HttpTarget",
    "LatenessSnapshot",
    "OnResults",
    "ProbeClient",
    "ProbeJob",
    "ProbeOutcome",
    "ProbeScheduler",
    "SchedulerStats",
    "SystemClock",
    "TcpTarget",
    "app_target",
    "probe_executor",
    "run_http_probe",
    "run_tcp_probe",
]
