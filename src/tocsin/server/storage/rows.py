"""Plain records read from the database (their JSON shape is in ``storage.shapes``)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
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
        """Build a record from a ``monitors`` row (or a dict with its columns; those of
        probed monitors may be missing)."""
        values = [row[name] for name in RECORD_COLUMNS[:_FIRST_OPTIONAL]]
        values += [row.get(name) for name in RECORD_COLUMNS[_FIRST_OPTIONAL:]]
        return cls.from_values(values, channels)

    @classmethod
    def from_values(
        cls,
        values: Sequence[Any],
        channels: tuple[str, ...] = (),
        status: HeartbeatStatus | None = None,
    ) -> MonitorRecord:
        """Build a record from its columns' values in ``RECORD_COLUMNS`` order, as the
        hot paths read them by position: timestamps already aware, JSON columns decoded
        or as their text. ``status``: the heartbeat status, if already decoded."""
        (
            id_,
            uuid,
            project_id,
            name,
            slug,
            kind,
            desc,
            tags,
            period_seconds,
            grace_seconds,
            cron,
            timezone,
            state,
            last_ping_at,
            last_start_at,
            last_start_rid,
            next_deadline,
            last_duration_seconds,
            n_pings,
            managed_by,
            created_at,
            updated_at,
            probe,
            interval_seconds,
            retry_interval_seconds,
            fail_streak,
            pass_streak,
            last_result_at,
            last_verdict,
            alert_policy,
        ) = values
        if status is None:
            status = HeartbeatStatus(
                STATES[state], last_ping_at, last_start_at, last_start_rid, next_deadline
            )
        return cls(
            id=id_,
            uuid=uuid,
            project_id=project_id,
            name=name,
            slug=slug,
            kind=_KINDS[kind],
            desc=desc,
            tags=_tags(tags),
            schedule=schedule_of(period_seconds, grace_seconds, cron, timezone),
            status=status,
            last_duration_seconds=last_duration_seconds,
            n_pings=n_pings,
            managed_by=_MANAGED_BY[managed_by],
            created_at=created_at,
            updated_at=updated_at,
            channels=channels,
            probe=_json(probe),
            interval_seconds=interval_seconds,
            retry_interval_seconds=retry_interval_seconds,
            fail_streak=fail_streak or 0,
            pass_streak=pass_streak or 0,
            last_result_at=last_result_at,
            last_verdict=last_verdict,
            alert_policy=_json(alert_policy),
        )


# The ``monitors`` columns a ``MonitorRecord`` is built from, in ``from_values`` order;
# ``from_row`` takes a mapping that may lack those from ``probe`` on (the probed
# monitors' columns).
RECORD_COLUMNS = (
    "id",
    "uuid",
    "project_id",
    "name",
    "slug",
    "kind",
    "desc",
    "tags",
    "period_seconds",
    "grace_seconds",
    "cron",
    "timezone",
    "state",
    "last_ping_at",
    "last_start_at",
    "last_start_rid",
    "next_deadline",
    "last_duration_seconds",
    "n_pings",
    "managed_by",
    "created_at",
    "updated_at",
    "probe",
    "interval_seconds",
    "retry_interval_seconds",
    "fail_streak",
    "pass_streak",
    "last_result_at",
    "last_verdict",
    "alert_policy",
)
_FIRST_OPTIONAL = RECORD_COLUMNS.index("probe")


def _tags(value: Any) -> tuple[str, ...]:
    """A ``tags`` column's value as a tuple: SQLite's driver-level reads hand back text."""
    if isinstance(value, str):
        return () if value == "[]" else tuple(json.loads(value))
    return tuple(value or ())


def _json(value: Any) -> Any:
    """A JSON column's value: the driver-level reads hand SQLite's text back as is."""
    if isinstance(value, str):
        return None if value == "null" else json.loads(value)
    return value


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
