"""The probe engine's SQL: which monitors it probes (leases on PostgreSQL) and the writes of
one result batch (results, monitor states and streaks, component states).

A batch is written in one transaction (``Database.run_write``) by synchronous functions
taking the caller's connection; flips and alerts go through ``flips.insert_flips`` and the
outbox in the same transaction. Inserts and updates of a batch are one executemany each,
whatever the number of results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.domain.states import MonitorKind, MonitorState
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.result_codec import encode_result, store_labels
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import component_states, monitors, probe_results

CLAIM_CHUNK = 500
PROBED_KINDS = tuple(kind.value for kind in MonitorKind if kind.probed)
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


class ProbedMonitorRow(NamedTuple):
    """What a result batch changes on a ``monitors`` row (found by ``id``)."""

    state: str
    fail_streak: int
    pass_streak: int
    last_result_at: datetime
    last_verdict: str
    id: int


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


async def probe_versions(
    conn: AsyncConnection, owner: str | None = None
) -> dict[int, tuple[datetime, str]]:
    """``id → (updated_at, state)`` of the active (not paused) probed monitors; with
    ``owner``, only those whose lease it holds."""
    query = select(monitors.c.id, monitors.c.updated_at, monitors.c.state).where(_ACTIVE)
    if owner is not None:
        query = query.where(monitors.c.lease_owner == owner)
    rows = await conn.execute(query)
    return {monitor_id: (updated_at, state) for monitor_id, updated_at, state in rows.all()}


async def probe_monitors(conn: AsyncConnection, ids: Sequence[int]) -> list[MonitorRecord]:
    """The monitors with these ids (their probe settings), in id order."""
    found: list[MonitorRecord] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        query = select(monitors).where(monitors.c.id.in_(chunk)).order_by(monitors.c.id)
        found.extend(MonitorRecord.from_row(row) for row in (await conn.execute(query)).mappings())
    return found


def renew_leases(conn: Connection, owner: str, until: datetime) -> list[int]:
    """Extend every lease ``owner`` still holds to ``until``; return their monitor ids,
    newest lease first.

    A lease another process took over (after it lapsed) is no longer ``owner``'s.
    """
    rows = conn.execute(
        update(monitors)
        .where(monitors.c.lease_owner == owner, _ACTIVE)
        .values(lease_until=until)
        .returning(monitors.c.id, monitors.c.lease_since)
    )
    newest_first = sorted(rows.all(), key=lambda row: (row[1] is not None, row[1], row[0]))
    return [monitor_id for monitor_id, _ in reversed(newest_first)]


def claim_leases(
    conn: Connection, owner: str, now: datetime, until: datetime, limit: int
) -> list[int]:
    """Take up to ``limit`` active probed monitors whose lease is free or lapsed.

    Rows another transaction is claiming are skipped (``FOR UPDATE SKIP LOCKED``), so
    processes claiming at once never wait for, nor take, the same monitor.
    """
    free = or_(monitors.c.lease_owner.is_(None), monitors.c.lease_until < now)
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
            .values(lease_owner=owner, lease_until=until, lease_since=now)
        )
    return ids


def hold_leases(
    conn: Connection, owner: str, now: datetime, until: datetime, nodes: int
) -> list[int]:
    """One lease pass of ``owner``, one of ``nodes`` live server processes: renew its
    leases, give back what exceeds its fair share (``ceil(active probed monitors /
    nodes)``), newest lease first, and claim free or lapsed ones up to that share,
    ``CLAIM_CHUNK`` at a time. Returns the ids held.

    A process that started alone holds everything; when a second one appears, the first
    gives back the excess on its next pass and the second claims it on its own.
    """
    held = renew_leases(conn, owner, until)
    total = conn.execute(select(func.count()).where(_ACTIVE)).scalar_one()
    share = math.ceil(total / max(nodes, 1))
    if len(held) > share:
        excess = held[: len(held) - share]
        conn.execute(
            update(monitors)
            .where(monitors.c.id.in_(excess), monitors.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, lease_since=None)
        )
        held = held[len(excess) :]
    while len(held) < share:
        claimed = claim_leases(conn, owner, now, until, min(CLAIM_CHUNK, share - len(held)))
        held.extend(claimed)
        if not claimed:
            break
    return held


async def release_leases(conn: AsyncConnection, owner: str) -> None:
    """Give up every lease of ``owner`` (when its process stops)."""
    await conn.execute(
        update(monitors)
        .where(monitors.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, lease_since=None)
    )


def monitors_to_judge(conn: Connection, ids: Sequence[int]) -> list[MonitorRecord]:
    """The monitors of a result batch as stored now, in id order; locked on PostgreSQL
    (in id order, like the ping writer's and the deadline watch's, so none deadlock)."""
    return statements_for(conn).monitors_by_id(conn, ids)


def insert_probe_results(conn: Connection, rows: Sequence[ProbeResultRow]) -> None:
    """Store a batch's results, compactly (``storage.result_codec``)."""
    if not rows:
        return
    encoded = [encode_result(row._asdict()) for row in rows]
    store_labels(conn, [label for _, label in encoded if label is not None])
    conn.execute(insert(probe_results), [columns for columns, _ in encoded])


def set_probe_states(conn: Connection, rows: Sequence[ProbedMonitorRow]) -> None:
    """Store the states, streaks and last results a batch decided."""
    if not rows:
        return
    # The SET clause comes from the parameters' keys; ``row_id`` finds the row.
    statement = update(monitors).where(monitors.c.id == bindparam("row_id"))
    params = [{**row._asdict(), "row_id": row.id} for row in rows]
    for param in params:
        del param["id"]
    conn.execute(statement, params)


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
