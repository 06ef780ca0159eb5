"""The ping writer's SQL: everything one group-commit transaction reads and writes.

Synchronous, for ``Database.run_write``. The common case (pings by uuid) and the writes
go through the driver-level statements of ``hot_sql``; slug lookups and run start times,
rarer, through SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, tuple_, type_coerce
from sqlalchemy.engine import Connection

from tocsin.server.domain.states import PingKind
from tocsin.server.storage.hot_rows import PingedMonitorRow, PingRow
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import monitors, pings, projects
from tocsin.server.storage.types import UTCDateTime


def project_of_ping_key(conn: Connection, ping_key: str) -> int | None:
    """The id of the project whose ping key this is, if any."""
    found = conn.execute(select(projects.c.id).where(projects.c.ping_key == ping_key))
    return found.scalar()


def batch_monitors(
    conn: Connection,
    uuids: Collection[str],
    slugs: Collection[tuple[int, str]],
    *,
    lock: bool,
) -> list[MonitorRecord]:
    """The monitors with these uuids or ``(project id, slug)`` pairs, in id order.

    ``lock`` (PostgreSQL) locks them for the transaction, in id order, so two batches
    that share a monitor take turns and never deadlock.
    """
    if not uuids and not slugs:
        return []
    if not slugs:
        # The common case: the driver-level statement, which always locks on PostgreSQL.
        return statements_for(conn).monitors_by_uuid(conn, sorted(uuids))
    conditions = [tuple_(monitors.c.project_id, monitors.c.slug).in_(sorted(slugs))]
    if uuids:
        conditions.append(monitors.c.uuid.in_(sorted(uuids)))
    query = select(monitors).where(or_(*conditions)).order_by(monitors.c.id)
    if lock:
        query = query.with_for_update()
    return [MonitorRecord.from_row(row) for row in conn.execute(query).mappings()]


def run_starts(
    conn: Connection, runs: Collection[tuple[int, str]]
) -> dict[tuple[int, str | None], datetime]:
    """When each ``(monitor id, run id)`` last sent a start ping (runs never started are
    absent)."""
    if not runs:
        return {}
    # type_coerce keeps the column's type through max(), so SQLite's text comes back aware.
    started = type_coerce(func.max(pings.c.created_at), UTCDateTime)
    query = (
        select(pings.c.monitor_id, pings.c.rid, started)
        .where(
            pings.c.kind == PingKind.START.value,
            tuple_(pings.c.monitor_id, pings.c.rid).in_(sorted(runs)),
        )
        .group_by(pings.c.monitor_id, pings.c.rid)
    )
    return {(monitor_id, rid): at for monitor_id, rid, at in conn.execute(query).all()}


def write_ping_batch(
    conn: Connection, ping_rows: Sequence[PingRow], monitor_rows: Sequence[PingedMonitorRow]
) -> None:
    """Insert the batch's pings and update their monitors."""
    statements_for(conn).write_ping_batch(conn, ping_rows, monitor_rows)
