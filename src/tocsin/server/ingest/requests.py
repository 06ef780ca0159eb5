"""A ping as the web layer hands it to the writer, and what the writer answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tocsin.server.domain.states import MonitorKind, PingKind


class PingOutcome(StrEnum):
    """How a ping was taken; the web layer turns it into Healthchecks' plain-text answers."""

    OK = "OK"
    CREATED = "Created"
    NOT_FOUND = "not found"
    AMBIGUOUS = "ambiguous slug"
    PROBED_HTTP = "this monitor is an http monitor; it is probed, not pinged"
    PROBED_APP = "this monitor is an app monitor; it is probed, not pinged"
    PROBED_TCP = "this monitor is a tcp monitor; it is probed, not pinged"

    @classmethod
    def probed(cls, kind: MonitorKind) -> PingOutcome:
        """The refusal of a ping to a monitor the server probes instead."""
        return _PROBED[kind]


_PROBED = {
    MonitorKind.HTTP: PingOutcome.PROBED_HTTP,
    MonitorKind.APP: PingOutcome.PROBED_APP,
    MonitorKind.TCP: PingOutcome.PROBED_TCP,
}


@dataclass(frozen=True)
class SlugTarget:
    """``/ping/<ping-key>/<slug>``: the monitor with that slug in the key's project."""

    ping_key: str
    slug: str
    create: bool = False


@dataclass
class PingRequest:
    """One received ping waiting to be written. ``uuid`` or ``slug`` names the monitor."""

    kind: PingKind
    received_at: datetime
    method: str
    scheme: str
    uuid: str | None = None
    slug: SlugTarget | None = None
    exit_status: int | None = None
    rid: str | None = None
    remote_addr: str | None = None
    user_agent: str | None = None
    body: str | None = None
    body_size: int = 0
    done: asyncio.Future[PingOutcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
