"""Reading and changing monitors. Callers pass the connection (and so the transaction)."""

from __future__ import annotations

import uuid as uuid_module
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import ConflictError, MonitorLimitError, NotFoundError, ValidationError
from tocsin.server.domain.spec import MonitorSpec
from tocsin.server.domain.states import ManagedBy, MonitorKind, MonitorState
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


async def list_monitors(
    conn: AsyncConnection,
    project_id: int,
    *,
    after: str | None = None,
    limit: int | None = None,
    tag: str | None = None,
    state: MonitorState | None = None,
    kind: MonitorKind | None = None,
    search: str | None = None,
) -> list[MonitorRecord]:
    """The project's monitors by name, optionally filtered: the first ``limit`` (all if
    ``None``) whose names sort after ``after``. Names are unique in a project, so ``after``
    is a keyset cursor: pages stay whole while monitors are added or deleted."""
    query = select(monitors).where(monitors.c.project_id == project_id)
    if after is not None:
        query = query.where(monitors.c.name > after)
    if tag is not None:
        query = query.where(_has_tag(conn.dialect.name, tag))
    if state is not None:
        query = query.where(monitors.c.state == state.value)
    if kind is not None:
        query = query.where(monitors.c.kind == kind.value)
    if search:
        # ``search``: part of the name, any case (the dashboard's search box).
        query = query.where(func.lower(monitors.c.name).contains(search.lower(), autoescape=True))
    query = query.order_by(monitors.c.name)
    if limit is not None:
        query = query.limit(limit)
    rows = (await conn.execute(query)).mappings().all()
    names = await _channel_names(conn, (row["id"] for row in rows))
    return [MonitorRecord.from_row(row, names.get(row["id"], ())) for row in rows]


def _has_tag(dialect: str, tag: str) -> ColumnElement[bool]:
    """Whether the monitor's ``tags`` JSON array holds ``tag``."""
    # Each database has its own function to open a JSON array as rows.
    opener = func.json_array_elements_text if dialect == "postgresql" else func.json_each
    elements = opener(monitors.c.tags).table_valued("value")
    return exists(select(1).select_from(elements).where(elements.c.value == tag))


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
    probe = spec.probe
    return {
        "probe": probe.to_json() if probe else None,
        "interval_seconds": probe.interval.total_seconds() if probe else None,
        "retry_interval_seconds": (
            probe.retry_interval.total_seconds() if probe and probe.retry_interval else None
        ),
        "name": spec.name,
        "slug": spec.slug,
        "kind": spec.kind.value,
        "desc": spec.desc,
        "tags": list(spec.tags),
        "period_seconds": schedule.period.total_seconds() if schedule.period else None,
        "grace_seconds": schedule.grace.total_seconds(),
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "alert_policy": _policy_json(spec),
    }


def _policy_json(spec: MonitorSpec) -> dict[str, Any] | None:
    """The stored policy: without channels (those are monitor_channels)."""
    if spec.policy is None:
        return None
    data = spec.policy.to_json()
    del data["channels"]
    return data


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
    *,
    max_monitors: int | None = None,
) -> MonitorRecord:
    """Insert a new monitor in state ``new`` (see ``insert_monitor``) with its channels.

    Requests on a user's behalf pass ``max_monitors`` (``Settings.max_monitors``).
    """
    channel_ids = await _channel_ids(conn, project_id, spec.channels)
    record = await conn.run_sync(
        insert_monitor, project_id, spec, now, managed_by=managed_by, max_monitors=max_monitors
    )
    await _set_channels(conn, record.id, channel_ids)
    return await get_monitor(conn, project_id, record.uuid)


# Monitor creations take turns (per transaction, across server nodes): the limit check
# counts what the one before committed, and two batches of ``?create=1`` pings never both
# create the monitor for one new slug.
_CREATE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tocsin:monitor-create'))"


def lock_monitor_creation(conn: Connection) -> None:
    """Wait until no other transaction may create a monitor, until this one ends.

    PostgreSQL only: on SQLite every write transaction already runs alone.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_CREATE_LOCK)


def insert_monitor(
    conn: Connection,
    project_id: int,
    spec: MonitorSpec,
    now: datetime,
    *,
    managed_by: ManagedBy,
    max_monitors: int | None,
) -> MonitorRecord:
    """The one way a ``monitors`` row is inserted: in state ``new``, without channels.

    ``MonitorLimitError`` if the project already has ``max_monitors`` monitors (``None``:
    no limit); ``ConflictError`` if the name is taken. Synchronous, so the ping writer
    calls it inside its batch transaction and ``create_monitor`` through ``run_sync``.
    """
    lock_monitor_creation(conn)
    if max_monitors is not None:
        count = conn.execute(
            select(func.count()).select_from(monitors).where(monitors.c.project_id == project_id)
        ).scalar_one()
        if count >= max_monitors:
            raise MonitorLimitError(
                f"the project has {count} monitors, the most TOCSIN_MAX_MONITORS allows "
                f"({max_monitors}); delete monitors or raise the limit"
            )
    values: dict[str, Any] = _spec_columns(spec) | {
        "uuid": str(uuid_module.uuid4()),
        "project_id": project_id,
        "state": (MonitorState.PAUSED if spec.paused else MonitorState.NEW).value,
        "fail_streak": 0,
        "pass_streak": 0,
        "last_result_at": None,
        "last_verdict": None,
        "lease_owner": None,
        "lease_until": None,
        "last_ping_at": None,
        "last_start_at": None,
        "last_start_rid": None,
        "last_duration_seconds": None,
        "next_deadline": None,
        "n_pings": 0,
        "managed_by": managed_by.value,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with conn.begin_nested():
            result = conn.execute(insert(monitors).values(values))
    except IntegrityError as exc:
        raise ConflictError(f"a monitor named {spec.name!r} already exists") from exc
    assert result.inserted_primary_key is not None
    # Every column was given, so the record needs no second read.
    return MonitorRecord.from_row(values | {"id": result.inserted_primary_key[0]})


async def update_monitor(
    conn: AsyncConnection,
    project_id: int,
    key: str,
    spec: MonitorSpec,
    now: datetime,
    managed_by: ManagedBy | None = None,
) -> MonitorRecord:
    """Replace a monitor's settings with ``spec``; its deadline follows the new schedule.

    ``spec.paused`` pauses a monitor that is not paused (an absent ``paused`` resumes
    nothing: resuming is ``resume_monitor``'s). A change of kind starts the confirmation
    counts afresh."""
    current = await get_monitor(conn, project_id, key)
    channel_ids = await _channel_ids(conn, project_id, spec.channels)
    status = rescheduled(current.status, spec.schedule)
    if spec.kind.probed:
        status = status.evolve(next_deadline=None)  # probes decide, not deadlines
    values = _spec_columns(spec) | {"next_deadline": status.next_deadline, "updated_at": now}
    if spec.kind is not current.kind:
        values |= {"fail_streak": 0, "pass_streak": 0, "last_verdict": None}
    if managed_by is not None:
        values["managed_by"] = managed_by.value
    try:
        async with conn.begin_nested():
            await conn.execute(update(monitors).where(monitors.c.id == current.id).values(values))
    except IntegrityError as exc:
        raise ConflictError(f"a monitor named {spec.name!r} already exists") from exc
    await _set_channels(conn, current.id, channel_ids)
    if spec.paused and current.status.state is not MonitorState.PAUSED:
        return await pause_monitor(conn, project_id, current.uuid, now)
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
    """Resume a paused monitor; it waits in ``new`` for its next ping (or probe)."""
    current = await get_monitor(conn, project_id, key)
    if current.kind.probed and current.status.state is MonitorState.PAUSED:
        await conn.execute(
            update(monitors).where(monitors.c.id == current.id).values(fail_streak=0, pass_streak=0)
        )
    return await save_status(conn, current, resume(current.status, "resumed by request"), now)


async def count_by_state(conn: AsyncConnection) -> dict[MonitorState, int]:
    """How many monitors (of every project) are in each state; every state is present."""
    counts = dict.fromkeys(MonitorState, 0)
    found = await conn.execute(select(monitors.c.state, func.count()).group_by(monitors.c.state))
    for state, count in found.all():
        counts[MonitorState(state)] = count
    return counts
