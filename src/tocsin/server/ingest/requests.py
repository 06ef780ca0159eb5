"""A ping as the web layer hands it to the writer, and what the writer answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tocsin.server.domain.states import PingKind


class PingOutcome(StrEnum):
    """How a ping was taken; the web layer turns it into Healthchecks' plain-text answers."""

    OK = "OK"
    CREATED = "Created"
    NOT_FOUND = "not found"
    AMBIGUOUS = "ambiguous slug"


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
