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
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.engine import Connection

from tocsin.errors import ConflictError, MonitorLimitError
from tocsin.server.alerts.outbox import ClaimedAlert, insert_alerts
from tocsin.server.domain.schedule import Schedule
from tocsin.server.domain.spec import DEFAULT_GRACE, DEFAULT_PERIOD, MonitorSpec
from tocsin.server.domain.states import ManagedBy, PingKind
from tocsin.server.domain.transitions import Flip, HeartbeatStatus, Ping, on_ping
from tocsin.server.ingest.requests import PingOutcome, PingRequest
from tocsin.server.storage.database import Database, DatabaseLost
from tocsin.server.storage.flips import insert_flips
from tocsin.server.storage.hot_rows import PingedMonitorRow, PingRow
from tocsin.server.storage.monitors import insert_monitor, lock_monitor_creation
from tocsin.server.storage.ping_batches import (
    batch_monitors,
    project_of_ping_key,
    run_starts,
    write_ping_batch,
)
from tocsin.server.storage.rows import MonitorRecord

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
        max_monitors: int | None = None,
        on_commit: Callable[[BatchResult, list[PingRequest]], None] | None = None,
    ) -> None:
        self.database = database
        self.base_url = base_url
        self.batch_max = batch_max
        self.window = window
        if concurrency > 1 and database.is_sqlite:
            raise ValueError("SQLite has a single writer: concurrency must be 1")
        self.concurrency = concurrency
        # ``?create=1`` creates no monitor past this many in a project (``None``: no limit).
        self.max_monitors = max_monitors
        # Called after each committed batch, with its result and its requests.
        self.on_commit = on_commit
        # When the refused-creation warning was last logged (``time.monotonic``).
        self._limit_logged_at: float | None = None
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

    @property
    def running(self) -> bool:
        """Whether the writer task is alive (started, not stopped and not dead)."""
        return self._task is not None and not self._task.done()

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
        except DatabaseLost as exc:  # logged once by the database; no ping can be stored
            for request in batch:
                if not request.done.done():
                    request.done.set_exception(exc)
            return
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
        ping_rows: list[PingRow] = []
        flips: list[tuple[_Working, Flip, datetime]] = []
        starts = run_starts(conn, _runs_to_end(batch, by_uuid, by_slug))
        full: set[int] = set()  # projects found at their monitor limit in this batch
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
                    if project_id is not None and project_id not in full:
                        record = self._create(conn, project_id, request)
                        if record is None:
                            full.add(project_id)
                        else:
                            by_slug[key] = [record]
                            outcome = PingOutcome.CREATED
            if record is None:
                outcomes.append(PingOutcome.NOT_FOUND)
                continue
            if record.kind.probed:
                outcomes.append(PingOutcome.probed(record.kind))
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
            # Positional: keyword arguments cost a named tuple ~2 µs more per ping.
            ping_rows.append(
                PingRow(
                    record.id,
                    item.n_pings,
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
            )
            outcomes.append(outcome)
        write_ping_batch(conn, ping_rows, [_pinged_monitor(w) for w in working.values()])
        flip_ids = insert_flips(conn, [(w.record.id, flip, at) for w, flip, at in flips])
        # Only flips into or out of down alert; the others (a first ping's new -> up)
        # need no record with the new status.
        flipped = [
            (replace(item.record, status=item.status), flip, flip_id, at)
            for (item, flip, at), flip_id in zip(flips, flip_ids, strict=True)
            if flip.alert is not None
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
            project_id = project_of_ping_key(conn, ping_key)
            if project_id is not None:
                self._ping_keys[ping_key] = project_id
        slug_pairs = {(self._ping_keys[k], s) for k, s in slugs if k in self._ping_keys}
        if lock and any(r.slug is not None and r.slug.create for r in batch):
            # Before reading, so the read sees the monitors the creator before committed.
            lock_monitor_creation(conn)
        found = batch_monitors(conn, uuids, slug_pairs, lock=lock)
        by_uuid: dict[str, MonitorRecord] = {}
        by_slug: dict[tuple[str, str], list[MonitorRecord]] = {}
        project_keys = {pid: key for key, pid in self._ping_keys.items()}
        for record in found:
            by_uuid[record.uuid] = record
            key = project_keys.get(record.project_id)
            if key is not None and (key, record.slug) in slugs:
                by_slug.setdefault((key, record.slug), []).append(record)
        return by_uuid, by_slug

    def _create(
        self, conn: Connection, project_id: int, request: PingRequest
    ) -> MonitorRecord | None:
        """Auto-provision the monitor of a ``?create=1`` ping; ``None`` past the limit."""
        assert request.slug is not None
        slug = request.slug.slug
        spec = MonitorSpec(
            name=slug, slug=slug, schedule=Schedule(grace=DEFAULT_GRACE, period=DEFAULT_PERIOD)
        )
        try:
            record = self._insert(conn, project_id, spec, request.received_at)
        except MonitorLimitError as exc:
            # Logged once a minute at most: a client looping over new slugs must not
            # flood the log.
            now = time.monotonic()
            if self._limit_logged_at is None or now - self._limit_logged_at >= 60:
                self._limit_logged_at = now
                logger.warning("monitor not auto-provisioned slug=%s: %s", slug, exc)
            return None
        except ConflictError:  # another monitor has that name (with another slug)
            spec = replace(spec, name=f"{slug}-{uuid_module.uuid4().hex[:8]}")
            record = self._insert(conn, project_id, spec, request.received_at)
        logger.info("monitor auto-provisioned slug=%s", slug)
        return record

    def _insert(
        self, conn: Connection, project_id: int, spec: MonitorSpec, now: datetime
    ) -> MonitorRecord:
        return insert_monitor(
            conn,
            project_id,
            spec,
            now,
            managed_by=ManagedBy.API,
            max_monitors=self.max_monitors,
        )


def _pinged_monitor(item: _Working) -> PingedMonitorRow:
    status = item.status
    return PingedMonitorRow(  # positional, as the ping rows
        status.state.value,
        status.last_ping_at,
        status.last_start_at,
        status.last_start_rid,
        status.next_deadline,
        item.last_duration,
        item.n_pings,
        item.record.id,
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


def _runs_to_end(
    batch: Iterable[PingRequest],
    by_uuid: dict[str, MonitorRecord],
    by_slug: dict[tuple[str, str], list[MonitorRecord]],
) -> set[tuple[int, str]]:
    """``(monitor id, run id)`` of the runs that success and fail pings with a run id may
    be ending (their start may be in an earlier batch)."""
    runs: set[tuple[int, str]] = set()
    for request in batch:
        if request.rid is None or request.kind not in (PingKind.SUCCESS, PingKind.FAIL):
            continue
        if request.uuid is not None and request.uuid in by_uuid:
            runs.add((by_uuid[request.uuid].id, request.rid))
        elif request.slug is not None:
            for record in by_slug.get((request.slug.ping_key, request.slug.slug), []):
                runs.add((record.id, request.rid))
    return runs
