"""Group-commit ping writer: many pings, one transaction, answered only after the commit.

Requests queue up while the previous batch commits, so batches grow with load by
themselves; each batch is a handful of statements whatever its size. On PostgreSQL
several batches may be in flight at once (``concurrency``): each locks its monitors in
id order, so two batches that share a monitor run one after the other. A ping's future
resolves only after its transaction committed, so an acknowledged ping is durable. If a
batch's transaction fails, its pings are written again one by one, so one bad ping
cannot fail its neighbours; a ping that still fails is answered with an error.
"""

from __future__ import annotations

import asyncio
import logging
import uuid as uuid_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import and_, func, insert, or_, select, text, tuple_
from sqlalchemy.engine import Connection

from tocsin.server.alerts.outbox import ClaimedAlert, insert_alerts
from tocsin.server.domain.spec import DEFAULT_GRACE, DEFAULT_PERIOD
from tocsin.server.domain.states import ManagedBy, MonitorKind, MonitorState, PingKind
from tocsin.server.domain.transitions import Flip, HeartbeatStatus, Ping, on_ping
from tocsin.server.ingest.requests import PingOutcome, PingRequest
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import insert_flips
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import monitors, pings, projects

logger = logging.getLogger(__name__)


@dataclass
class _Working:
    """A monitor being changed by the batch; ``status`` runs ahead of ``record.status``."""

    record: MonitorRecord
    status: HeartbeatStatus
    n_pings: int
    last_duration: float | None


@dataclass(frozen=True)
class BatchResult:
    """What a committed batch did, for the deadline watch, the outbox and metrics."""

    deadlines: dict[int, datetime | None]
    flips: list[Flip]
    alerts: list[ClaimedAlert]


class PingWriter:
    """Owns the ping queue and the task that writes it in batches."""

    def __init__(
        self,
        database: Database,
        *,
        base_url: str,
        batch_max: int = 500,
        window: float = 0.001,
        concurrency: int = 1,
        on_commit: Callable[[BatchResult, list[PingRequest]], None] | None = None,
    ) -> None:
        self.database = database
        self.base_url = base_url
        self.batch_max = batch_max
        self.window = window
        if concurrency > 1 and database.is_sqlite:
            raise ValueError("SQLite has a single writer: concurrency must be 1")
        self.concurrency = concurrency
        self.on_commit = on_commit
        # ``None`` is the stop signal.
        self._queue: asyncio.Queue[PingRequest | None] = asyncio.Queue()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # Ping key -> project id; filled inside batch transactions (on the event loop or,
        # for SQLite, the one writer thread).
        self._ping_keys: dict[str, int] = {}

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._run(), name="tocsin-ping-writer")

    async def stop(self) -> None:
        """Finish the batch in progress and write what is queued, then stop.

        The task is not cancelled mid-transaction: a ping is either committed and
        answered, or never started.
        """
        if self._task is None:
            return
        self._stopping = True
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def submit(self, request: PingRequest) -> PingOutcome:
        """Queue ``request`` and wait until it is durable (or refused)."""
        if self._task is None or self._task.done() or self._stopping:
            raise RuntimeError("the ping writer is not running")
        self._queue.put_nowait(request)
        return await request.done

    def _take_batch(self, first: PingRequest) -> list[PingRequest]:
        batch = [first]
        while len(batch) < self.batch_max:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item is None:  # stop() was called: finish after this batch
                self._queue.put_nowait(None)
                break
            batch.append(item)
        return batch

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.concurrency)
        in_flight: set[asyncio.Task[None]] = set()
        while True:
            first = await self._queue.get()
            if first is None:
                break
            if not in_flight and self._queue.empty() and self.window > 0:
                # The writer was idle: give the requests that arrived in the same burst a
                # moment to queue up, or a batch of 1 takes a whole transaction while the
                # rest of the burst waits for the next one.
                await asyncio.sleep(self.window)
            # The batch is taken only once a slot is free, so it grows while all are busy.
            await slots.acquire()
            task = asyncio.create_task(self._write_in_slot(self._take_batch(first), slots))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight)

    async def _write_in_slot(self, batch: list[PingRequest], slots: asyncio.Semaphore) -> None:
        try:
            await self._write(batch)
        finally:
            slots.release()

    async def _write(self, batch: list[PingRequest]) -> None:
        try:
            outcomes, result = await self._commit(batch)
        except Exception as exc:  # the clients must hear that their pings were not stored
            if len(batch) > 1:
                # One bad ping must not sink its neighbours: write them one by one.
                logger.warning("ping batch failed size=%d; retrying one by one", len(batch))
                for request in batch:
                    await self._write([request])
                return
            logger.exception("ping not stored uuid=%s", batch[0].uuid)
            if not batch[0].done.done():
                batch[0].done.set_exception(exc)
            return
        for request, outcome in zip(batch, outcomes, strict=True):
            if not request.done.done():
                request.done.set_result(outcome)
        if self.on_commit is not None:
            self.on_commit(result, batch)

    async def _commit(self, batch: list[PingRequest]) -> tuple[list[PingOutcome], BatchResult]:
        """Write ``batch`` in one transaction (see ``Database.run_write``)."""
        return await self.database.run_write(self._apply, batch)

    def _apply(
        self, conn: Connection, batch: list[PingRequest]
    ) -> tuple[list[PingOutcome], BatchResult]:
        lock = not self.database.is_sqlite
        by_uuid, by_slug = self._load(conn, batch, lock)
        outcomes: list[PingOutcome] = []
        working: dict[int, _Working] = {}
        ping_rows: list[tuple[object, ...]] = []
        flips: list[tuple[_Working, Flip, datetime]] = []
        starts = _start_times(conn, batch, by_uuid, by_slug)
        for request in batch:
            outcome = PingOutcome.OK
            record: MonitorRecord | None
            if request.uuid is not None:
                record = by_uuid.get(request.uuid)
            else:
                assert request.slug is not None
                key = (request.slug.ping_key, request.slug.slug)
                found = by_slug.get(key, [])
                if len(found) > 1:
                    outcomes.append(PingOutcome.AMBIGUOUS)
                    continue
                record = found[0] if found else None
                if record is None and request.slug.create:
                    project_id = self._ping_keys.get(request.slug.ping_key)
                    if project_id is not None:
                        record = _create_from_slug(conn, project_id, request)
                        by_slug[key] = [record]
                        outcome = PingOutcome.CREATED
            if record is None:
                outcomes.append(PingOutcome.NOT_FOUND)
                continue
            item = working.get(record.id)
            if item is None:
                item = working[record.id] = _Working(
                    record, record.status, record.n_pings, record.last_duration_seconds
                )
            ping = Ping(request.kind, request.received_at, request.rid, request.exit_status)
            start_at = _matching_start(item, request, starts)
            transition = on_ping(item.status, record.schedule, ping, start_at)
            if request.kind is PingKind.START:
                starts[(record.id, request.rid)] = request.received_at
            item.n_pings += 1
            duration = transition.duration.total_seconds() if transition.duration else None
            if duration is not None:
                item.last_duration = duration
            item.status = transition.status
            if transition.flip is not None:
                flips.append((item, transition.flip, request.received_at))
            ping_rows.append(_ping_row(record.id, item.n_pings, request, duration))
            outcomes.append(outcome)
        statements_for(conn).write_ping_batch(
            conn, ping_rows, [_status_row(w) for w in working.values()]
        )
        flip_ids = insert_flips(conn, [(w.record.id, flip, at) for w, flip, at in flips])
        flipped = [
            (replace(item.record, status=item.status), flip, flip_id, at)
            for (item, flip, at), flip_id in zip(flips, flip_ids, strict=True)
        ]
        alerts = insert_alerts(conn, flipped, self.base_url)
        result = BatchResult(
            deadlines={w.record.id: w.status.next_deadline for w in working.values()},
            flips=[flip for _, flip, _ in flips],
            alerts=alerts,
        )
        return outcomes, result

    def _load(
        self, conn: Connection, batch: list[PingRequest], lock: bool
    ) -> tuple[dict[str, MonitorRecord], dict[tuple[str, str], list[MonitorRecord]]]:
        uuids = {r.uuid for r in batch if r.uuid is not None}
        slugs = {(r.slug.ping_key, r.slug.slug) for r in batch if r.slug is not None}
        for ping_key in {key for key, _ in slugs} - self._ping_keys.keys():
            project_id = conn.execute(
                select(projects.c.id).where(projects.c.ping_key == ping_key)
            ).scalar()
            if project_id is not None:
                self._ping_keys[ping_key] = project_id
        slug_pairs = [(self._ping_keys[k], s) for k, s in slugs if k in self._ping_keys]
        if lock and any(r.slug is not None and r.slug.create for r in batch):
            # Two transactions (batches in flight, or server nodes) must not both create
            # the monitor for one new slug: creators take turns, and the query below sees
            # what the one before committed.
            conn.execute(_SLUG_CREATE_LOCK)
        by_uuid: dict[str, MonitorRecord] = {}
        by_slug: dict[tuple[str, str], list[MonitorRecord]] = {}
        if not uuids and not slug_pairs:
            return by_uuid, by_slug
        if not slug_pairs:
            # The common case: the driver-level statement of the hot path.
            found = statements_for(conn).monitors_by_uuid(conn, sorted(uuids))
        else:
            conditions = [tuple_(monitors.c.project_id, monitors.c.slug).in_(slug_pairs)]
            if uuids:
                conditions.append(monitors.c.uuid.in_(uuids))
            query = select(monitors).where(or_(*conditions)).order_by(monitors.c.id)
            query = query.with_for_update() if lock else query
            found = [MonitorRecord.from_row(row) for row in conn.execute(query).mappings()]
        project_keys = {pid: key for key, pid in self._ping_keys.items()}
        for record in found:
            by_uuid[record.uuid] = record
            key = project_keys.get(record.project_id)
            if key is not None and (key, record.slug) in slugs:
                by_slug.setdefault((key, record.slug), []).append(record)
        return by_uuid, {**by_slug}


_SLUG_CREATE_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('tocsin:slug-create'))")


def _status_row(item: _Working) -> tuple[object, ...]:
    """``hot_sql.PING_MONITOR_COLUMNS`` and the id."""
    status = item.status
    return (
        status.state.value,
        status.last_ping_at,
        status.last_start_at,
        status.last_start_rid,
        status.next_deadline,
        item.last_duration,
        item.n_pings,
        item.record.id,
    )


def _ping_row(
    monitor_id: int, n: int, request: PingRequest, duration: float | None
) -> tuple[object, ...]:
    """``hot_sql.PING_COLUMNS``."""
    return (
        monitor_id,
        n,
        request.received_at,
        request.kind.value,
        request.exit_status,
        request.rid,
        duration,
        request.method,
        request.scheme,
        request.remote_addr,
        request.user_agent,
        request.body,
        request.body_size,
    )


def _matching_start(
    item: _Working, request: PingRequest, starts: dict[tuple[int, str | None], datetime]
) -> datetime | None:
    if request.kind not in (PingKind.SUCCESS, PingKind.FAIL):
        return None
    status = item.status
    if status.last_start_at is not None and status.last_start_rid == request.rid:
        return status.last_start_at
    return starts.get((item.record.id, request.rid))


def _start_times(
    conn: Connection,
    batch: Iterable[PingRequest],
    by_uuid: dict[str, MonitorRecord],
    by_slug: dict[tuple[str, str], list[MonitorRecord]],
) -> dict[tuple[int, str | None], datetime]:
    """Start times of earlier runs that pings with a run id may be ending."""
    wanted: set[tuple[int, str]] = set()
    for request in batch:
        if request.rid is None or request.kind not in (PingKind.SUCCESS, PingKind.FAIL):
            continue
        if request.uuid is not None and request.uuid in by_uuid:
            wanted.add((by_uuid[request.uuid].id, request.rid))
        elif request.slug is not None:
            for record in by_slug.get((request.slug.ping_key, request.slug.slug), []):
                wanted.add((record.id, request.rid))
    if not wanted:
        return {}
    query = (
        select(pings.c.monitor_id, pings.c.rid, func.max(pings.c.created_at))
        .where(
            and_(
                pings.c.kind == PingKind.START.value,
                tuple_(pings.c.monitor_id, pings.c.rid).in_(sorted(wanted)),
            )
        )
        .group_by(pings.c.monitor_id, pings.c.rid)
    )
    found: dict[tuple[int, str | None], datetime] = {}
    for monitor_id, rid, at in conn.execute(query).all():
        if isinstance(at, str):  # SQLite's max() loses the column type
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        found[(monitor_id, rid)] = at
    return found


def _create_from_slug(conn: Connection, project_id: int, request: PingRequest) -> MonitorRecord:
    """Auto-provision a monitor for ``?create=1`` with the default period and grace."""
    assert request.slug is not None
    now = request.received_at
    name = request.slug.slug
    taken = conn.execute(
        select(monitors.c.id).where(monitors.c.project_id == project_id, monitors.c.name == name)
    )
    if taken.first() is not None:
        name = f"{name}-{uuid_module.uuid4().hex[:8]}"
    values = {
        "uuid": str(uuid_module.uuid4()),
        "project_id": project_id,
        "name": name,
        "slug": request.slug.slug,
        "kind": MonitorKind.HEARTBEAT.value,
        "desc": "",
        "tags": [],
        "period_seconds": DEFAULT_PERIOD.total_seconds(),
        "grace_seconds": DEFAULT_GRACE.total_seconds(),
        "cron": None,
        "timezone": "UTC",
        "state": MonitorState.NEW.value,
        "n_pings": 0,
        "managed_by": ManagedBy.API.value,
        "created_at": now,
        "updated_at": now,
    }
    result = conn.execute(insert(monitors).values(values))
    assert result.inserted_primary_key is not None
    new_id = result.inserted_primary_key[0]
    row = conn.execute(select(monitors).where(monitors.c.id == new_id)).mappings().one()
    logger.info("monitor auto-provisioned slug=%s", request.slug.slug)
    return MonitorRecord.from_row(row)
