"""Plain records read from the database, and their JSON shape for the API and CLI."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import RowMapping

from tocsin.server.domain.durations import format_duration
from tocsin.server.domain.schedule import Schedule
from tocsin.server.domain.states import ManagedBy, MonitorKind, MonitorState
from tocsin.server.domain.transitions import HeartbeatStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# Plain lookups: calling an Enum class is slow, and the ping writer builds records per batch.
_STATES = {state.value: state for state in MonitorState}
_KINDS = {kind.value: kind for kind in MonitorKind}
_MANAGED_BY = {owner.value: owner for owner in ManagedBy}


@functools.lru_cache(maxsize=4096)
def _schedule(
    period_seconds: float | None, grace_seconds: float, cron: str | None, timezone: str
) -> Schedule:
    """Schedules are immutable and shared by many monitors: build each once."""
    return Schedule(
        grace=timedelta(seconds=grace_seconds),
        period=timedelta(seconds=period_seconds) if period_seconds is not None else None,
        cron=cron,
        timezone=timezone,
    )


@dataclass(frozen=True)
class MonitorRecord:
    """A monitor as stored."""

    id: int
    uuid: str
    project_id: int
    name: str
    slug: str
    kind: MonitorKind
    desc: str
    tags: tuple[str, ...]
    schedule: Schedule
    status: HeartbeatStatus
    last_duration_seconds: float | None
    n_pings: int
    managed_by: ManagedBy
    created_at: datetime
    updated_at: datetime
    channels: tuple[str, ...] = ()

    @classmethod
    def from_row(
        cls, row: RowMapping | Mapping[str, Any], channels: tuple[str, ...] = ()
    ) -> MonitorRecord:
        """Build a record from a ``monitors`` row (or a dict with its columns)."""
        schedule = _schedule(
            row["period_seconds"], row["grace_seconds"], row["cron"], row["timezone"]
        )
        status = HeartbeatStatus(
            state=_STATES[row["state"]],
            last_ping_at=row["last_ping_at"],
            last_start_at=row["last_start_at"],
            last_start_rid=row["last_start_rid"],
            next_deadline=row["next_deadline"],
        )
        return cls(
            id=row["id"],
            uuid=row["uuid"],
            project_id=row["project_id"],
            name=row["name"],
            slug=row["slug"],
            kind=_KINDS[row["kind"]],
            desc=row["desc"],
            tags=tuple(row["tags"] or ()),
            schedule=schedule,
            status=status,
            last_duration_seconds=row["last_duration_seconds"],
            n_pings=row["n_pings"],
            managed_by=_MANAGED_BY[row["managed_by"]],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            channels=channels,
        )

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The monitor as the API and ``tocsin status --json`` show it."""
        schedule = self.schedule
        return {
            "uuid": self.uuid,
            "name": self.name,
            "slug": self.slug,
            "kind": self.kind.value,
            "desc": self.desc,
            "tags": list(self.tags),
            "period": format_duration(schedule.period) if schedule.period else None,
            "period_seconds": schedule.period.total_seconds() if schedule.period else None,
            "cron": schedule.cron,
            "timezone": schedule.timezone,
            "grace": format_duration(schedule.grace),
            "grace_seconds": schedule.grace.total_seconds(),
            "state": self.status.state.value,
            "last_ping_at": _iso(self.status.last_ping_at),
            "last_start_at": _iso(self.status.last_start_at),
            "last_duration_seconds": self.last_duration_seconds,
            "next_deadline": _iso(self.status.next_deadline),
            "n_pings": self.n_pings,
            "ping_url": f"{base_url}/ping/{self.uuid}",
            "channels": list(self.channels),
            "managed_by": self.managed_by.value,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


MASK = "********"


def _masked_settings(settings: dict[str, Any]) -> dict[str, Any]:
    masked = dict(settings)
    if isinstance(masked.get("headers"), dict):
        masked["headers"] = dict.fromkeys(masked["headers"], MASK)
    url = masked.get("url")
    if isinstance(url, str):
        parts = urlsplit(url)
        hidden = bool(parts.path.strip("/") or parts.query or parts.fragment)
        # The host and port stay, to show where alerts go; user:password@ goes.
        host = parts.netloc.rpartition("@")[2]
        masked["url"] = f"{parts.scheme}://{host}/" + (MASK if hidden else "")
    return masked


@dataclass(frozen=True)
class ChannelRecord:
    """A notification channel as stored."""

    id: int
    uuid: str
    name: str
    kind: str
    settings: dict[str, Any]
    managed_by: ManagedBy
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> ChannelRecord:
        """Build a record from a ``channels`` row."""
        return cls(
            id=row["id"],
            uuid=row["uuid"],
            name=row["name"],
            kind=row["kind"],
            settings=dict(row["settings"]),
            managed_by=ManagedBy(row["managed_by"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def to_json(self, *, secrets: bool = True) -> dict[str, Any]:
        """The channel as the API shows it; ``secrets=False`` masks what could be a
        credential (header values, and the URL's path and query, where services such as
        Slack and Discord put their tokens) for readers that may not change it."""
        settings = self.settings if secrets else _masked_settings(self.settings)
        return {
            "uuid": self.uuid,
            "name": self.name,
            "kind": self.kind,
            **settings,
            "managed_by": self.managed_by.value,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True)
class PingRecord:
    """A stored ping."""

    n: int
    created_at: datetime
    kind: str
    exit_status: int | None
    rid: str | None
    duration_seconds: float | None
    method: str
    scheme: str
    remote_addr: str | None
    user_agent: str | None
    body: str | None
    body_size: int

    @classmethod
    def from_row(cls, row: RowMapping) -> PingRecord:
        """Build a record from a ``pings`` row."""
        return cls(**{name: row[name] for name in PING_FIELDS})

    def to_json(self) -> dict[str, Any]:
        """The ping as the API shows it."""
        data = {name: getattr(self, name) for name in PING_FIELDS}
        data["created_at"] = _iso(self.created_at)
        return data


# A stored ping's fields, in column order (the ping writer inserts them after monitor_id).
PING_FIELDS = (
    "n",
    "created_at",
    "kind",
    "exit_status",
    "rid",
    "duration_seconds",
    "method",
    "scheme",
    "remote_addr",
    "user_agent",
    "body",
    "body_size",
)


@dataclass(frozen=True)
class FlipRecord:
    """A stored state change."""

    created_at: datetime
    old_state: str
    new_state: str
    cause: str

    def to_json(self) -> dict[str, Any]:
        """The flip as the API shows it."""
        return {
            "created_at": _iso(self.created_at),
            "old_state": self.old_state,
            "new_state": self.new_state,
            "cause": self.cause,
        }
