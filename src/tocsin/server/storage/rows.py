"""Plain records read from the database (their JSON shape is in ``storage.shapes``)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping

from tocsin.server.domain.schedule import Schedule
from tocsin.server.domain.states import ManagedBy, MonitorKind, MonitorState
from tocsin.server.domain.transitions import HeartbeatStatus

# Plain lookups: calling an Enum class is slow, and the ping writer builds records per batch.
STATES = {state.value: state for state in MonitorState}
_KINDS = {kind.value: kind for kind in MonitorKind}
_MANAGED_BY = {owner.value: owner for owner in ManagedBy}


@functools.lru_cache(maxsize=4096)
def schedule_of(
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
    # Probed monitors (http, app, tcp): the stored settings (``ProbeSpec.to_json()``),
    # intervals, the confirmation counts and the last result's time and verdict.
    probe: Mapping[str, Any] | None = None
    interval_seconds: float | None = None
    retry_interval_seconds: float | None = None
    fail_streak: int = 0
    pass_streak: int = 0
    last_result_at: datetime | None = None
    last_verdict: str | None = None
    # The stored alert policy (``AlertPolicy.to_json`` without channels); None: defaults.
    alert_policy: Mapping[str, Any] | None = None

    @classmethod
    def from_row(
        cls, row: RowMapping | Mapping[str, Any], channels: tuple[str, ...] = ()
    ) -> MonitorRecord:
        """Build a record from a ``monitors`` row (or a dict with its columns)."""
        schedule = schedule_of(
            row["period_seconds"], row["grace_seconds"], row["cron"], row["timezone"]
        )
        status = HeartbeatStatus(
            state=STATES[row["state"]],
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
            probe=_json(row.get("probe")),
            interval_seconds=row.get("interval_seconds"),
            retry_interval_seconds=row.get("retry_interval_seconds"),
            fail_streak=row.get("fail_streak") or 0,
            pass_streak=row.get("pass_streak") or 0,
            last_result_at=row.get("last_result_at"),
            last_verdict=row.get("last_verdict"),
            alert_policy=_json(row.get("alert_policy")),
        )


def _json(value: Any) -> Any:
    """A JSON column's value: the driver-level reads hand SQLite's text back as is."""
    return json.loads(value) if isinstance(value, str) else value


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


# A stored ping's fields, as ``PingRecord.from_row`` reads them.
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

    id: int
    created_at: datetime
    old_state: str
    new_state: str
    cause: str
