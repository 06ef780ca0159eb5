"""Reading and changing monitors. Callers pass the connection (and so the transaction)."""

from __future__ import annotations

import uuid as uuid_module
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import ConflictError, NotFoundError, ValidationError
from tocsin.server.domain.spec import MonitorSpec
from tocsin.server.domain.states import ManagedBy, MonitorState
from tocsin.server.domain.transitions import HeartbeatStatus, Transition, pause, rescheduled, resume
from tocsin.server.storage.flips import record_flip
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import channels, monitor_channels, monitors


def _is_uuid(value: str) -> bool:
    try:
        uuid_module.UUID(value)
    except ValueError:
        return False
    return True


async def _channel_names(
    conn: AsyncConnection, monitor_ids: Iterable[int]
) -> dict[int, tuple[str, ...]]:
    ids = list(monitor_ids)
    if not ids:
        return {}
    query = (
        select(monitor_channels.c.monitor_id, channels.c.name)
        .join(channels, channels.c.id == monitor_channels.c.channel_id)
        .where(monitor_channels.c.monitor_id.in_(ids))
        .order_by(channels.c.name)
    )
    names: dict[int, list[str]] = defaultdict(list)
    for monitor_id, name in await conn.execute(query):
        names[monitor_id].append(name)
    return {key: tuple(value) for key, value in names.items()}


async def list_monitors(conn: AsyncConnection, project_id: int) -> list[MonitorRecord]:
    """Every monitor of the project, by name."""
    rows = (
        (
            await conn.execute(
                select(monitors)
                .where(monitors.c.project_id == project_id)
                .order_by(monitors.c.name)
            )
        )
        .mappings()
        .all()
    )
    names = await _channel_names(conn, (row["id"] for row in rows))
    return [MonitorRecord.from_row(row, names.get(row["id"], ())) for row in rows]


async def get_monitor(conn: AsyncConnection, project_id: int, key: str) -> MonitorRecord:
    """The monitor with uuid (or, failing that, name) ``key``; ``NotFoundError`` if none."""
    if _is_uuid(key):
        condition = monitors.c.uuid == key.lower()
    else:
        condition = monitors.c.name == key
    query = select(monitors).where(monitors.c.project_id == project_id, condition)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFoundError(f"no monitor {key!r}")
    names = await _channel_names(conn, [row["id"]])
    return MonitorRecord.from_row(row, names.get(row["id"], ()))


async def _channel_ids(conn: AsyncConnection, project_id: int, names: Iterable[str]) -> list[int]:
    wanted = list(names)
    if not wanted:
        return []
    rows = await conn.execute(
        select(channels.c.name, channels.c.id).where(
            channels.c.project_id == project_id, channels.c.name.in_(wanted)
        )
    )
    found = dict(rows.all())
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ValidationError(
            "unknown channel", {"channels": f"no channel named {', '.join(map(repr, missing))}"}
        )
    return [found[name] for name in wanted]


def _spec_columns(spec: MonitorSpec) -> dict[str, object]:
    schedule = spec.schedule
    return {
        "name": spec.name,
        "slug": spec.slug,
        "kind": spec.kind.value,
        "desc": spec.desc,
        "tags": list(spec.tags),
        "period_seconds": schedule.period.total_seconds() if schedule.period else None,
        "grace_seconds": schedule.grace.total_seconds(),
        "cron": schedule.cron,
        "timezone": schedule.timezone,
    }


async def _set_channels(conn: AsyncConnection, monitor_id: int, channel_ids: list[int]) -> None:
    await conn.execute(delete(monitor_channels).where(monitor_channels.c.monitor_id == monitor_id))
    if channel_ids:
        await conn.execute(
            insert(monitor_channels),
            [{"monitor_id": monitor_id, "channel_id": cid} for cid in channel_ids],
        )


async def create_monitor(
    conn: AsyncConnection,
    project_id: int,
    spec: MonitorSpec,
    now: datetime,
    managed_by: ManagedBy = ManagedBy.API,
) -> MonitorRecord:
    """Insert a new monitor in state ``new``; ``ConflictError`` if the name is taken."""
    channel_ids = await _channel_ids(conn, project_id, spec.channels)
    values = _spec_columns(spec) | {
        "uuid": str(uuid_module.uuid4()),
        "project_id": project_id,
        "state": MonitorState.NEW.value,
        "n_pings": 0,
        "managed_by": managed_by.value,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with conn.begin_nested():
            result = await conn.execute(insert(monitors).values(values))
    except IntegrityError as exc:
        raise ConflictError(f"a monitor named {spec.name!r} already exists") from exc
    monitor_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    assert monitor_id is not None
    await _set_channels(conn, monitor_id, channel_ids)
    return await get_monitor(conn, project_id, str(values["uuid"]))


async def update_monitor(
    conn: AsyncConnection,
    project_id: int,
    key: str,
    spec: MonitorSpec,
    now: datetime,
    managed_by: ManagedBy | None = None,
) -> MonitorRecord:
    """Replace a monitor's settings with ``spec``; its deadline follows the new schedule."""
    current = await get_monitor(conn, project_id, key)
    channel_ids = await _channel_ids(conn, project_id, spec.channels)
    status = rescheduled(current.status, spec.schedule)
    values = _spec_columns(spec) | {"next_deadline": status.next_deadline, "updated_at": now}
    if managed_by is not None:
        values["managed_by"] = managed_by.value
    try:
        async with conn.begin_nested():
            await conn.execute(update(monitors).where(monitors.c.id == current.id).values(values))
    except IntegrityError as exc:
        raise ConflictError(f"a monitor named {spec.name!r} already exists") from exc
    await _set_channels(conn, current.id, channel_ids)
    return await get_monitor(conn, project_id, current.uuid)


async def delete_monitor(conn: AsyncConnection, project_id: int, key: str) -> MonitorRecord:
    """Delete a monitor with its pings, flips and queued alerts; return what was deleted."""
    current = await get_monitor(conn, project_id, key)
    await conn.execute(delete(monitors).where(monitors.c.id == current.id))
    return current


async def save_status(
    conn: AsyncConnection, monitor: MonitorRecord, transition: Transition, now: datetime
) -> MonitorRecord:
    """Store a transition that did not come from a ping (pause, resume)."""
    status: HeartbeatStatus = transition.status
    await conn.execute(
        update(monitors)
        .where(monitors.c.id == monitor.id)
        .values(
            state=status.state.value,
            last_start_at=status.last_start_at,
            last_start_rid=status.last_start_rid,
            next_deadline=status.next_deadline,
            updated_at=now,
        )
    )
    if transition.flip is not None:
        await record_flip(conn, monitor.id, transition.flip, now)
    return await get_monitor(conn, monitor.project_id, monitor.uuid)


async def pause_monitor(
    conn: AsyncConnection, project_id: int, key: str, now: datetime
) -> MonitorRecord:
    """Pause a monitor: no deadlines and no alerts until it is pinged or resumed."""
    current = await get_monitor(conn, project_id, key)
    return await save_status(conn, current, pause(current.status, "paused by request"), now)


async def resume_monitor(
    conn: AsyncConnection, project_id: int, key: str, now: datetime
) -> MonitorRecord:
    """Resume a paused monitor; it waits in ``new`` for its next ping."""
    current = await get_monitor(conn, project_id, key)
    return await save_status(conn, current, resume(current.status, "resumed by request"), now)
