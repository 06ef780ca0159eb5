"""The probe engine's SQL: which monitors it probes (leases on PostgreSQL) and the writes of
one result batch (results, monitor states and streaks, component states).

A batch is written in one transaction (``Database.run_write``) by synchronous functions
taking the caller's connection; flips and alerts go through ``flips.insert_flips`` and the
outbox in the same transaction. Inserts and updates of a batch are one statement each,
whatever the number of results, through the driver-level statements of ``probe_sql``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.probe_sql import (
    PROBED_KINDS,
    JudgedMonitor,
    ProbedMonitorRow,
    probe_statements_for,
)
from tocsin.server.storage.result_codec import encode_result
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import component_states, monitors, server_nodes

CLAIM_CHUNK = 500
_ACTIVE = and_(monitors.c.kind.in_(PROBED_KINDS), monitors.c.state != MonitorState.PAUSED.value)


class ProbeResultRow(NamedTuple):
    """A ``probe_results`` row."""

    monitor_id: int
    scheduled_at: datetime
    started_at: datetime
    verdict: str
    failure: str | None
    error: str | None
    status_code: int | None
    total_ms: float | None
    timings: dict[str, Any] | None
    outcomes: list[dict[str, Any]] | None
    components: list[dict[str, Any]] | None


class ComponentStateRow(NamedTuple):
    """A ``component_states`` row as a result reports it (``changed_at`` is kept when
    the status did not change)."""

    monitor_id: int
    key: str
    status: str
    value: Any
    unit: str | None
    message: str | None
    changed_at: datetime
    updated_at: datetime


async def probe_versions(conn: AsyncConnection, owner: str | None = None) -> dict[int, Any]:
    """``id → version`` (``updated_at``, as the driver returns it: compare it only with
    another version) of the active (not paused) probed monitors; with ``owner``, only
    those whose lease it holds.

    Every change a user makes to a monitor (settings, pause, resume) moves its
    ``updated_at``; the engine's own writes (states, streaks, leases) do not.
    """
    return await conn.run_sync(lambda sync: probe_statements_for(sync).versions(sync, owner))


async def changed_probe_versions(
    conn: AsyncConnection, owner: str | None, since: datetime
) -> tuple[int, dict[int, Any]]:
    """How many monitors ``probe_versions`` would return, and the versions of those of
    them updated at or after ``since`` (a change-only reload's read)."""
    return await conn.run_sync(
        lambda sync: probe_statements_for(sync).changed_versions(sync, owner, since)
    )


async def probe_monitors(conn: AsyncConnection, ids: Sequence[int]) -> list[MonitorRecord]:
    """The monitors with these ids (their probe settings), in id order."""
    found: list[MonitorRecord] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        query = select(monitors).where(monitors.c.id.in_(chunk)).order_by(monitors.c.id)
        found.extend(MonitorRecord.from_row(row) for row in (await conn.execute(query)).mappings())
    return found


class LeasePass(NamedTuple):
    """What one lease pass left ``owner`` with: how many leases it holds, and the ids it
    claimed and gave back in this pass."""

    held: int
    claimed: list[int]
    released: list[int]


def _held(conn: Connection, owner: str) -> int:
    """How many leases ``owner`` holds on active probed monitors."""
    return int(
        conn.execute(
            select(func.count()).where(monitors.c.lease_owner == owner, _ACTIVE)
        ).scalar_one()
    )


def _newest_leases(conn: Connection, owner: str, limit: int) -> list[int]:
    """The ``limit`` monitor ids whose lease ``owner`` took last."""
    rows = conn.execute(
        select(monitors.c.id)
        .where(monitors.c.lease_owner == owner, _ACTIVE)
        .order_by(monitors.c.lease_since.desc().nulls_last(), monitors.c.id.desc())
        .limit(limit)
    )
    return [monitor_id for (monitor_id,) in rows.all()]


def claim_leases(
    conn: Connection, owner: str, now: datetime, live_since: datetime, limit: int
) -> list[int]:
    """Take up to ``limit`` active probed monitors whose lease is free or lapsed: no
    owner, or an owner whose ``server_nodes`` row was not seen since ``live_since``.

    Rows another transaction is claiming are skipped (``FOR UPDATE SKIP LOCKED``), so
    processes claiming at once never wait for, nor take, the same monitor.
    """
    live = select(server_nodes.c.node).where(server_nodes.c.seen_at >= live_since)
    free = or_(monitors.c.lease_owner.is_(None), monitors.c.lease_owner.not_in(live))
    candidates = (
        select(monitors.c.id)
        .where(_ACTIVE, free)
        .order_by(monitors.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = [monitor_id for (monitor_id,) in conn.execute(candidates).all()]
    if ids:
        conn.execute(
            update(monitors)
            .where(monitors.c.id.in_(ids))
            .values(lease_owner=owner, lease_since=now)
        )
    return ids


def hold_leases(
    conn: Connection, owner: str, now: datetime, live_since: datetime, nodes: int
) -> LeasePass:
    """One lease pass of ``owner``, one of ``nodes`` live server processes: give back
    what exceeds its fair share (``ceil(active probed monitors / nodes)``), newest lease
    first, and claim free or lapsed ones up to that share, ``CLAIM_CHUNK`` at a time.

    A lease lasts as long as its owner's ``server_nodes`` row is fresh (seen at or after
    ``live_since``): the owner's heartbeat, one row, keeps all its leases, and a pass that
    changes nothing reads three numbers and writes no monitor row. (Renewing each row's
    own lease end rewrote every held row every 15 s: at 10,000 monitors that cost
    PostgreSQL more than all the probe results.)

    A process that started alone holds everything; when a second one appears, the first
    gives back the excess on its next pass and the second claims it on its own.
    """
    held = _held(conn, owner)
    total = conn.execute(select(func.count()).where(_ACTIVE)).scalar_one()
    share = math.ceil(total / max(nodes, 1))
    released: list[int] = []
    if held > share:
        released = _newest_leases(conn, owner, held - share)
        conn.execute(
            update(monitors)
            .where(monitors.c.id.in_(released), monitors.c.lease_owner == owner)
            .values(lease_owner=None, lease_since=None)
        )
        held -= len(released)
    claimed: list[int] = []
    while held < share:
        chunk = claim_leases(conn, owner, now, live_since, min(CLAIM_CHUNK, share - held))
        claimed.extend(chunk)
        held += len(chunk)
        if not chunk:
            break
    return LeasePass(held, claimed, released)


async def release_leases(conn: AsyncConnection, owner: str) -> None:
    """Give up every lease of ``owner`` (when its process stops)."""
    await conn.execute(
        update(monitors)
        .where(monitors.c.lease_owner == owner)
        .values(lease_owner=None, lease_since=None)
    )


def monitors_to_judge(conn: Connection, ids: Sequence[int]) -> list[MonitorRecord]:
    """The monitors of a result batch as stored now, in full, in id order; locked on
    PostgreSQL (in id order, like the ping writer's and the deadline watch's, so none
    deadlock)."""
    return statements_for(conn).monitors_by_id(conn, ids)


def judged_monitors(conn: Connection, ids: Sequence[int]) -> list[JudgedMonitor]:
    """What confirming a batch's results needs of its monitors as stored now, in id
    order; locked on PostgreSQL like ``monitors_to_judge``."""
    return probe_statements_for(conn).judged_monitors(conn, ids)


def insert_probe_results(conn: Connection, rows: Sequence[ProbeResultRow]) -> None:
    """Store a batch's results, compactly (``storage.result_codec``)."""
    if not rows:
        return
    encoded = [encode_result(row._asdict()) for row in rows]
    statements = probe_statements_for(conn)
    labels = {
        stored.labels: label
        for stored, label in encoded
        if label is not None and stored.labels is not None
    }
    statements.insert_labels(conn, labels)
    statements.insert_results(conn, [stored for stored, _ in encoded])


def set_probe_states(conn: Connection, rows: Sequence[ProbedMonitorRow]) -> None:
    """Store the states, streaks and last results a batch decided."""
    probe_statements_for(conn).set_states(conn, rows)


def upsert_component_states(
    conn: Connection, rows: Sequence[ComponentStateRow], reported: dict[int, set[str]]
) -> None:
    """Store the components' current states; ``changed_at`` moves only when a status
    changes. ``reported`` maps each monitor whose report was read to its keys: its
    components that are no longer reported are deleted."""
    for monitor_id, keys in reported.items():
        conn.execute(
            delete(component_states).where(
                component_states.c.monitor_id == monitor_id,
                component_states.c.key.not_in(keys)
                if keys
                else component_states.c.key.is_not(None),
            )
        )
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(component_states)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[component_states.c.monitor_id, component_states.c.key],
        set_={
            "status": new.status,
            "value": new.value,
            "unit": new.unit,
            "message": new.message,
            "changed_at": _changed_at(new),
            "updated_at": new.updated_at,
        },
    )
    conn.execute(statement, [row._asdict() for row in rows])


def _changed_at(new: Any) -> Any:
    return case(
        (component_states.c.status == new.status, component_states.c.changed_at),
        else_=new.changed_at,
    )
