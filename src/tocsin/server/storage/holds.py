"""Silences and maintenance windows: what holds a monitor's alerts.

``holds_for`` is for the alert path (synchronous, in the flip's transaction, one
driver-level query of ``policy_sql``);
the rest is for the API and ``tocsin apply`` (async).
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import NotFoundError
from tocsin.server.domain.maintenance import Hold, MaintenanceWindow, Silence, current_hold
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.policy_sql import policy_sql
from tocsin.server.storage.tables import holds, monitors


class HoldKind(StrEnum):
    """What a ``holds`` row is."""

    SILENCE = "silence"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class MonitorRef:
    """A monitor as holds see it: windows name monitors, silences point at their id."""

    id: int
    project_id: int
    name: str


@dataclass(frozen=True)
class HoldRecord:
    """A silence (``monitor`` set, ``window`` not) or a maintenance window."""

    uuid: str
    kind: HoldKind
    name: str | None
    monitor: str | None
    window: dict[str, Any] | None
    starts_at: datetime | None
    ends_at: datetime | None
    managed_by: str
    created_at: datetime


def holds_for(conn: Connection, refs: Sequence[MonitorRef], now: datetime) -> dict[int, Hold]:
    """The hold in force at ``now`` for each monitor that has one."""
    if not refs:
        return {}
    project_ids = {ref.project_id for ref in refs}
    rows = policy_sql(conn).holds(conn, project_ids, [ref.id for ref in refs], now)
    if not rows:
        return {}
    windows: dict[int, list[MaintenanceWindow]] = {}
    silences: dict[int, list[Silence]] = {}
    for row in rows:
        if row.kind == HoldKind.SILENCE.value:
            # A silence always has its monitor and both ends (``create_silence``).
            assert row.monitor_id is not None and row.starts_at and row.ends_at
            silence = Silence("", row.starts_at, row.ends_at)
            silences.setdefault(row.monitor_id, []).append(silence)
        else:
            assert row.window is not None
            window = MaintenanceWindow.from_json(row.window)
            windows.setdefault(row.project_id, []).append(window)
    found: dict[int, Hold] = {}
    for ref in refs:
        mine = [w for w in windows.get(ref.project_id, ()) if w.applies_to(ref.name)]
        hold = current_hold(mine, silences.get(ref.id, ()), now)
        if hold is not None:
            found[ref.id] = hold
    return found


async def create_silence(
    conn: AsyncConnection, project_id: int, monitor_id: int, start: datetime, until: datetime
) -> str:
    """Silence a monitor from ``start`` until ``until``; the silence's uuid."""
    key = str(uuid_module.uuid4())
    await conn.execute(
        insert(holds).values(
            uuid=key,
            project_id=project_id,
            kind=HoldKind.SILENCE.value,
            monitor_id=monitor_id,
            starts_at=start,
            ends_at=until,
            managed_by=ManagedBy.API.value,
            created_at=start,
        )
    )
    return key


async def end_silences(conn: AsyncConnection, project_id: int, monitor_id: int) -> int:
    """Remove every silence of a monitor; how many there were."""
    result = await conn.execute(
        delete(holds).where(
            holds.c.project_id == project_id,
            holds.c.kind == HoldKind.SILENCE.value,
            holds.c.monitor_id == monitor_id,
        )
    )
    return int(result.rowcount or 0)


async def list_holds(
    conn: AsyncConnection, project_id: int, now: datetime, kind: HoldKind | None = None
) -> list[HoldRecord]:
    """A project's silences and windows not over by ``now``, oldest first."""
    query = (
        select(
            holds.c.uuid,
            holds.c.kind,
            holds.c.name,
            monitors.c.name,
            holds.c.window,
            holds.c.starts_at,
            holds.c.ends_at,
            holds.c.managed_by,
            holds.c.created_at,
        )
        .select_from(holds.outerjoin(monitors, monitors.c.id == holds.c.monitor_id))
        .where(holds.c.project_id == project_id)
        .where(or_(holds.c.ends_at.is_(None), holds.c.ends_at > now))
        .order_by(holds.c.id)
    )
    if kind is not None:
        query = query.where(holds.c.kind == kind.value)
    return [
        HoldRecord(uuid, HoldKind(k), name, monitor, window, starts, ends, managed, created)
        for uuid, k, name, monitor, window, starts, ends, managed, created in (
            await conn.execute(query)
        ).all()
    ]


async def delete_window(conn: AsyncConnection, project_id: int, name: str) -> None:
    """Remove a maintenance window by name (``NotFoundError`` if there is none)."""
    result = await conn.execute(
        delete(holds).where(
            holds.c.project_id == project_id,
            holds.c.kind == HoldKind.MAINTENANCE.value,
            holds.c.name == name,
        )
    )
    if not result.rowcount:
        raise NotFoundError("no such maintenance window")


async def put_window(
    conn: AsyncConnection,
    project_id: int,
    window: MaintenanceWindow,
    now: datetime,
    managed_by: ManagedBy = ManagedBy.API,
) -> None:
    """Create or replace the maintenance window named ``window.name``."""
    await conn.execute(
        delete(holds).where(
            holds.c.project_id == project_id,
            holds.c.kind == HoldKind.MAINTENANCE.value,
            holds.c.name == window.name,
        )
    )
    await conn.execute(
        insert(holds).values(
            uuid=str(uuid_module.uuid4()),
            project_id=project_id,
            kind=HoldKind.MAINTENANCE.value,
            name=window.name,
            window=window.to_json(),
            starts_at=window.start,
            ends_at=window.end,
            managed_by=managed_by.value,
            created_at=now,
        )
    )


def monitors_named(refs: Iterable[MonitorRef], window: MaintenanceWindow) -> list[int]:
    """The ids of the monitors among ``refs`` that ``window`` holds."""
    return [ref.id for ref in refs if window.applies_to(ref.name)]
