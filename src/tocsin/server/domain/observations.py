"""What a probe saw: the data a probe runner produces and the pure evaluators read.

A target that is down is data, never an exception: a refused connection, a timeout or a
bad certificate is an ``Observation`` whose ``failure`` says which, and assertions are
evaluated over whatever was observed (a status assertion on a refused connection resolves
to ``None`` and fails).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class FailureKind(StrEnum):
    """Why a probe could not get an answer (or a usable one)."""

    DNS = "dns"  # the host name did not resolve
    REFUSED = "refused"  # the port refused the connection
    TIMEOUT = "timeout"  # no complete answer within the monitor's timeout
    TLS = "tls"  # handshake or certificate verification failed
    CONNECTION = "connection"  # reset, closed early, unreachable network
    PROTOCOL = "protocol"  # the peer did not speak HTTP (or health+json, for app monitors)
    TOO_LARGE = "too_large"  # an app monitor's report passed the body limit, so it was cut
    REDIRECTS = "redirects"  # more redirects than the monitor allows
    CONFIG = "config"  # the monitor's settings could not be used (an unset ${VARIABLE})


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each phase; ``None`` for a phase that did not happen."""

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    first_byte_ms: float | None = None
    total_ms: float | None = None


@dataclass(frozen=True)
class Observation:
    """One probe's raw outcome (HTTP, app or TCP), before any assertion is applied.

    ``headers`` has lower-case names (repeated headers joined with ``", "``); ``body`` is
    at most the probe's body limit, ``body_truncated`` says whether more was sent.
    ``cert_not_after`` is the peer certificate's expiry for TLS targets.
    """

    url: str
    started_at: datetime
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_truncated: bool = False
    timings: Timings = field(default_factory=Timings)
    cert_not_after: datetime | None = None
    failure: FailureKind | None = None
    error: str | None = None  # a short human-readable reason when ``failure`` is set

    @property
    def response_time_ms(self) -> float | None:
        """The whole request's duration, as assertions on ``response_time`` read it."""
        return self.timings.total_ms
