"""Enumerations of the monitoring domain."""

from __future__ import annotations

from enum import StrEnum

from tocsin.heartbeat import PingKind


class MonitorKind(StrEnum):
    """What a monitor watches: ``heartbeat`` waits for pings; ``http``, ``app`` (an HTTP
    endpoint answering application/health+json) and ``tcp`` are probed by the server."""

    HEARTBEAT = "heartbeat"
    HTTP = "http"
    APP = "app"
    TCP = "tcp"

    @property
    def probed(self) -> bool:
        """Whether the server probes monitors of this kind (rather than wait for pings)."""
        return self is not MonitorKind.HEARTBEAT


class MonitorState(StrEnum):
    """Where a monitor stands.

    ``new``: never pinged. ``up``: pinged in time. ``started``: a run announced with a
    start ping is in progress. ``grace``: the expected ping is late, the grace time runs.
    ``down``: grace ran out, or the job reported failure. ``paused``: not watched.
    """

    NEW = "new"
    UP = "up"
    STARTED = "started"
    GRACE = "grace"
    DOWN = "down"
    PAUSED = "paused"


class AlertKind(StrEnum):
    """The two alerts a flip can raise."""

    DOWN = "down"
    UP = "up"


class ManagedBy(StrEnum):
    """Who owns an object: ``api`` (made by hand or API) or ``config`` (``tocsin apply``)."""

    API = "api"
    CONFIG = "config"


class NotificationStatus(StrEnum):
    """``pending`` until delivered, or ``failed`` for good after a permanent error or the
    last retry."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# How long a claimed notification belongs to the process that claimed it; a process that
# dies mid-send leaves a claim that expires after this, and the alert is sent again.
CLAIM_SECONDS = 60.0

__all__ = [
    "CLAIM_SECONDS",
    "AlertKind",
    "ManagedBy",
    "MonitorKind",
    "MonitorState",
    "NotificationStatus",
    "PingKind",
]
