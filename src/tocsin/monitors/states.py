"""Enumerations of the monitoring domain."""

from __future__ import annotations

from enum import StrEnum


class MonitorKind(StrEnum):
    """What a monitor watches. Only heartbeats exist so far; HTTP probes come later."""

    HEARTBEAT = "heartbeat"


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


class PingKind(StrEnum):
    """What a received ping says. An exit status is stored as success (0) or fail."""

    SUCCESS = "success"
    START = "start"
    FAIL = "fail"
    LOG = "log"


class AlertKind(StrEnum):
    """The two alerts a flip can raise."""

    DOWN = "down"
    UP = "up"


class ManagedBy(StrEnum):
    """Who owns an object: ``api`` (made by hand or API) or ``config`` (``tocsin apply``)."""

    API = "api"
    CONFIG = "config"
