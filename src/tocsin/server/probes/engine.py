"""The probe engine: probes every active ``http``, ``app`` and ``tcp`` monitor on its
schedule, judges each answer, confirms failures, and writes results in batches.

- **Which monitors**: on start and every ``reload_seconds`` (or at once after
  ``refresh()``, which the API calls after it changes a monitor) the engine reads the
  active monitors' ``updated_at`` (narrow driver-level queries), reads in full only those
  new or changed since it scheduled them and drops those gone (deleted, paused, no longer
  probed, or leased elsewhere), so another process's ``tocsin apply`` is picked up too.
  Its own writes (states, streaks) do not move ``updated_at``, so they cost no reload.
  Most passes are change-only: they count the active monitors and read the versions of
  those updated since the previous pass began (less ``CHANGE_MARGIN``); a count that
  differs from the monitors known (a deletion, a pause), a lease claimed or given back,
  and every ``FULL_PASS_EVERY``-th pass read every version instead. On PostgreSQL several
  server processes share the probes through row leases
  (``lease_owner``): each pass marks this process seen in ``server_nodes``, which keeps
  all its leases (a lease lapses when its owner is unseen for ``lease_seconds``), releases
  what exceeds its fair share (the active probed monitors divided by the nodes seen
  within three reload intervals; newest leases first), and claims free or lapsed ones
  with ``FOR UPDATE SKIP LOCKED``; a process schedules only the monitors it holds, and
  gives its leases (and its row) up when it stops. SQLite has one server process, which
  probes every monitor.
- **Each run**: ``${NAME}`` placeholders in headers and body are substituted from the
  server's environment (an unset variable is a ``config`` failure, not a crash), the
  probe runs on one shared ``ProbeClient``, and ``judge_probe`` gives the verdict.
- **Each batch** of outcomes (the scheduler's ``ResultBatcher``; batches start at least
  ``result_spacing`` seconds apart) is one transaction:
  results inserted, states and confirmation counts (``fail_streak``, ``pass_streak``)
  updated, component states upserted, flips and their alerts written through the outbox.
  After the commit, monitors failing but not yet down move to their retry interval and
  ``on_commit`` hands the alerts on (``Engines.after_probe_batch``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.health.model import Status
from tocsin.logs import counted, log_each_or_count
from tocsin.server.alerts.outbox import ClaimedAlert, insert_alerts
from tocsin.server.background import cancel_and_wait, wait_event
from tocsin.server.domain.confirmation import ConfirmationState, confirm, retry_due
from tocsin.server.domain.observations import Observation
from tocsin.server.domain.placeholders import substitute
from tocsin.server.domain.probe_spec import ProbeSpec
from tocsin.server.domain.probe_verdict import Judgement, config_failure, judge_probe
from tocsin.server.domain.states import AlertKind, MonitorKind, MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.probes.http_client import ProbeClient
from tocsin.server.probes.jobs import ProbeJob, ProbeOutcome, TcpTarget, probe_executor
from tocsin.server.probes.scheduler import ProbeScheduler
from tocsin.server.probes.targets import HttpTarget, app_target
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import insert_flips, last_down_causes
from tocsin.server.storage.probe_sql import PROBED_KINDS, ProbedMonitorRow
from tocsin.server.storage.probe_writes import (
    ComponentStateRow,
    LeasePass,
    ProbeResultRow,
    changed_probe_versions,
    hold_leases,
    insert_probe_results,
    judged_monitors,
    monitors_to_judge,
    probe_monitors,
    probe_versions,
    release_leases,
    set_probe_states,
    upsert_component_states,
)
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.server_nodes import forget_node, heartbeat_node, live_nodes

logger = logging.getLogger(__name__)

# Result batches start at least this many seconds apart (unless a full one waits): at
# 10,000 monitors a transaction every few milliseconds cost more than the rows it wrote,
# and on SQLite each one also takes the ping writer's turn on the one writer thread. A
# result (and a probe's alert) shows at most a second later; a confirmed down already took
# at least two intervals. 0.25 s kept 86-87 % of the ping rate on SQLite while 10,000
# monitors probed, 1 s 90 % (bench/pings.py --probing 10000).
RESULT_SPACING = 1.0

# A change-only pass reads the monitors whose updated_at is at or after the previous
# pass's start less this margin: the time is the writer's clock, set before its commit,
# so a slow commit or another node's clock may put it a little in the past.
CHANGE_MARGIN = timedelta(seconds=30)
# Every this many passes (a minute at the default 5 s), a pass reads every version
# whatever the counts say, so a change the margin missed waits at most that long. At
# 10,000 monitors a full read cost the server as much as 1,000 probes a minute.
FULL_PASS_EVERY = 12

_STATES = {state.value: state for state in MonitorState}
_STATUSES = {status.value: status for status in Status}


@dataclass(frozen=True)
class ProbeBatchResult:
    """What one committed batch of results did."""

    results: int
    flips: list[Flip] = field(default_factory=list)
    flipped: list[int] = field(default_factory=list)  # each flip's monitor id, in order
    alerts: list[ClaimedAlert] = field(default_factory=list)
    retrying: dict[int, bool] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)  # results by verdict
    write_seconds: float = 0.0  # the transaction, retries included


@dataclass(frozen=True)
class _Probe:
    """A scheduled monitor: its settings and the stored version they came from."""

    kind: MonitorKind
    spec: ProbeSpec
    version: Any  # the stored updated_at, as ``probe_versions`` returns it


@dataclass(frozen=True)
class _Judged:
    outcome: ProbeOutcome
    kind: MonitorKind
    spec: ProbeSpec
    judgement: Judgement


def node_name() -> str:
    """This process's lease owner name: host, pid and a random part (at most 64 chars)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class ProbeEngine:
    """Schedules, runs, judges and records the probes of one server process."""

    def __init__(
        self,
        database: Database,
        *,
        base_url: str,
        on_commit: Callable[[ProbeBatchResult], None],
        concurrency: int = 200,
        per_host: int = 20,
        reload_seconds: float = 5.0,
        lease_seconds: float = 30.0,
        full_pass_every: int = FULL_PASS_EVERY,
        result_spacing: float = RESULT_SPACING,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.database = database
        self.base_url = base_url
        self.on_commit = on_commit
        self.concurrency = concurrency
        self.per_host = per_host
        self.reload_seconds = reload_seconds
        self.lease_seconds = lease_seconds
        self.full_pass_every = full_pass_every
        self.result_spacing = result_spacing
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.leased = not database.is_sqlite
        self.owner = node_name()
        self.started_at = datetime.now(UTC)
        self._probes: dict[int, _Probe] = {}
        self._known: dict[int, Any] = {}  # id → version of the monitors the last pass saw
        self._changes_since: datetime | None = None  # where the next change-only pass reads
        self._passes = 0
        self._client: ProbeClient | None = None
        self._scheduler: ProbeScheduler | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def running(self) -> bool:
        """Whether the reload loop and the scheduler are alive."""
        scheduler = self._scheduler
        return (
            self._task is not None
            and not self._task.done()
            and scheduler is not None
            and scheduler.running
        )

    @property
    def scheduler(self) -> ProbeScheduler | None:
        """The scheduler (for its stats), once started."""
        return self._scheduler

    def monitor_ids(self) -> set[int]:
        """The monitors this process probes now."""
        return set(self._probes)

    def start(self) -> None:
        """Start probing (inside the event loop); the first reload runs at once."""
        self._client = ProbeClient()
        execute = probe_executor(self._client)

        async def run(job: ProbeJob, now: datetime) -> Observation:
            resolved = self._resolve(job, now)
            if isinstance(resolved, Observation):
                return resolved
            return await execute(resolved, now)

        self._scheduler = ProbeScheduler(
            run,
            self._record,
            concurrency=self.concurrency,
            per_host=self.per_host,
            result_spacing=self.result_spacing,
        )
        self._scheduler.start()
        self._task = asyncio.create_task(self._reload_loop(), name="tocsin-probe-reload")

    async def stop(self) -> None:
        """Stop probing, write the results already queued, give up the leases."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self._scheduler is not None:
            await self._scheduler.stop()
            self._scheduler = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self.leased:
            try:
                async with self.database.write() as conn:
                    await release_leases(conn, self.owner)
                    await forget_node(conn, self.owner)
            except Exception:  # the leases lapse and the row expires by themselves
                logger.warning("probe leases not released owner=%s", self.owner)
        self._probes.clear()

    def refresh(self) -> None:
        """Re-read the monitors now (a monitor was created, changed, paused or deleted)."""
        self._wake.set()

    async def _reload_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("probe monitors not reloaded; trying again")
            await wait_event(self._wake, self.reload_seconds)

    async def reload(self) -> None:
        """One pass: (PostgreSQL) mark this node seen, balance and claim leases; then
        schedule what changed and drop what went away (change-only unless a full read is
        due, see the module docstring)."""
        began = datetime.now(UTC)
        owner = self.owner if self.leased else None
        full = self._changes_since is None or self._passes % self.full_pass_every == 0
        if self.leased:
            leases = await self.database.run_write(self._lease_pass, began)
            full = full or bool(leases.claimed or leases.released)
        async with self.database.read() as conn:
            versions = None if full else await self._changed_versions(conn, owner)
            if versions is None:
                versions = await probe_versions(conn, owner)
            changed = [i for i, v in versions.items() if self._version(i) != v]
            records = await probe_monitors(conn, changed) if changed else []
        self._known = versions
        self._changes_since = began - CHANGE_MARGIN
        self._passes += 1
        scheduler = self._scheduler
        assert scheduler is not None
        for monitor_id in self._probes.keys() - versions.keys():
            del self._probes[monitor_id]
            scheduler.remove(monitor_id)
        for record in records:
            # The version read first: if the row changed since, the next pass reads it again.
            self._schedule(scheduler, record, versions[record.id])

    async def _changed_versions(
        self, conn: AsyncConnection, owner: str | None
    ) -> dict[int, Any] | None:
        """Every version, from the last pass's and those updated since; ``None`` when the
        count says a monitor went away (then every version is read)."""
        assert self._changes_since is not None
        count, changed = await changed_probe_versions(conn, owner, self._changes_since)
        versions = {**self._known, **changed}
        return versions if len(versions) == count else None

    def _lease_pass(self, conn: Connection, now: datetime) -> LeasePass:
        """Mark this node seen (which keeps its leases), then hold its fair share of the
        leases among the nodes seen within three reload intervals. Leases of a node
        unseen for ``lease_seconds`` lapse; its row is forgotten after ten reload
        intervals or the lease, whichever is longer."""
        reload = timedelta(seconds=self.reload_seconds)
        lease = timedelta(seconds=self.lease_seconds)
        heartbeat_node(conn, self.owner, self.started_at, now, now - max(10 * reload, lease))
        nodes = live_nodes(conn, now - 3 * reload)
        return hold_leases(conn, self.owner, now, now - lease, nodes)

    def _version(self, monitor_id: int) -> Any:
        probe = self._probes.get(monitor_id)
        return probe.version if probe else None

    def _schedule(self, scheduler: ProbeScheduler, record: MonitorRecord, version: Any) -> None:
        try:
            spec = ProbeSpec.from_json(
                record.kind,
                record.probe or {},
                record.interval_seconds,
                record.retry_interval_seconds,
            )
            job = ProbeJob(
                record.id,
                _target(spec),
                interval=spec.interval,
                retry_interval=spec.effective_retry,
                jitter=spec.jitter,
            )
        except Exception:  # stored settings this version cannot use: skip, keep the rest
            logger.exception("probe monitor not scheduled monitor_id=%d", record.id)
            return
        self._probes[record.id] = _Probe(record.kind, spec, version)
        scheduler.upsert(job)
        state = _STATES.get(record.status.state.value, MonitorState.NEW)
        current = ConfirmationState(state, record.fail_streak, record.pass_streak)
        scheduler.set_retrying(record.id, retry_due(current, spec.confirm))

    def _resolve(self, job: ProbeJob, now: datetime) -> ProbeJob | Observation:
        """``job`` with its ``${NAME}`` placeholders substituted, or the failure saying
        which variable is missing."""
        target = job.target
        if isinstance(target, TcpTarget):
            return job
        texts = [*target.headers.values()]
        body = target.body.decode() if target.body is not None else None
        if body is not None:
            texts.append(body)
        if not any("${" in text for text in texts):
            return job
        problems: list[str] = []
        headers: dict[str, str] = {}
        for name, value in target.headers.items():
            headers[name], found = substitute(value, self.environ)
            problems.extend(f"header {name}: {p}" for p in found)
        if body is not None:
            body, found = substitute(body, self.environ)
            problems.extend(f"body: {p}" for p in found)
        if problems:
            return config_failure(target.url, now, problems)
        encoded = body.encode() if body is not None else None
        return replace(job, target=replace(target, headers=headers, body=encoded))

    async def _record(self, outcomes: list[ProbeOutcome]) -> None:
        """Judge a batch of outcomes and write it (the scheduler's ``on_results``)."""
        judged = []
        for outcome in outcomes:
            probe = self._probes.get(outcome.job.monitor_id)
            if probe is None:  # removed while it ran
                continue
            judgement = judge_probe(
                probe.kind,
                outcome.observation,
                outcome.started_at,
                probe.spec.assertions,
                probe.spec.rules,
            )
            judged.append(_Judged(outcome, probe.kind, probe.spec, judgement))
        if not judged:
            return
        began = time.monotonic()
        result = await self.database.run_write(self._write, judged, datetime.now(UTC))
        result = replace(result, write_seconds=time.monotonic() - began)
        if result.flips:  # once committed, off SQLite's writer thread and its lock
            log_each_or_count(
                logger,
                "probe flip monitor_id=%d old=%s new=%s cause=%s",
                [
                    (monitor_id, flip.old_state.value, flip.new_state.value, flip.cause)
                    for monitor_id, flip in zip(result.flipped, result.flips, strict=True)
                ],
                f"probe flips count={len(result.flips)} "
                + counted(flip.new_state.value for flip in result.flips),
            )
        scheduler = self._scheduler
        if scheduler is not None:
            for monitor_id, retrying in result.retrying.items():
                scheduler.set_retrying(monitor_id, retrying)
        self.on_commit(result)

    def _write(self, conn: Connection, judged: list[_Judged], now: datetime) -> ProbeBatchResult:
        ids = sorted({item.outcome.job.monitor_id for item in judged})
        current = {monitor.id: monitor for monitor in judged_monitors(conn, ids)}
        states: dict[int, ConfirmationState] = {}
        results: list[ProbeResultRow] = []
        components: dict[tuple[int, str], ComponentStateRow] = {}
        reported: dict[int, set[str]] = {}
        flipping: list[tuple[int, Flip, datetime, Judgement]] = []
        last_at: dict[int, datetime] = {}
        retrying: dict[int, bool] = {}
        for item in judged:
            monitor_id = item.outcome.job.monitor_id
            stored = current.get(monitor_id)
            if stored is None or stored.kind not in PROBED_KINDS:
                continue  # deleted, or no longer probed
            if stored.state == MonitorState.PAUSED.value:
                continue
            before = states.get(monitor_id) or ConfirmationState(
                _STATES[stored.state],
                stored.fail_streak,
                stored.pass_streak,
                _STATUSES.get(stored.last_verdict or ""),
            )
            judgement = item.judgement
            at = item.outcome.started_at
            after, flip = confirm(before, judgement.verdict, item.spec.confirm, judgement.summary)
            states[monitor_id] = after
            last_at[monitor_id] = at
            retrying[monitor_id] = retry_due(after, item.spec.confirm)
            results.append(_result_row(item))
            if judgement.reading is not None and judgement.reading.failure is None:
                keys = reported.setdefault(monitor_id, set())
                for component in judgement.reading.components:
                    keys.add(component.key)
                    components[(monitor_id, component.key)] = ComponentStateRow(
                        monitor_id,
                        component.key,
                        component.status.value,
                        component.value,
                        component.unit,
                        component.message,
                        at,
                        at,
                    )
            if flip is not None:
                flipping.append((monitor_id, flip, at, judgement))
        flipping = _with_what_recovered(conn, flipping)
        # Only the monitors whose flip alerts (down, or up from down) are read in full:
        # the alert needs their names and channels; other flips need only the id.
        alerting = sorted({monitor_id for monitor_id, flip, _, _ in flipping if flip.alert})
        records = {r.id: r for r in monitors_to_judge(conn, alerting)} if alerting else {}
        set_probe_states(
            conn,
            [
                ProbedMonitorRow(
                    state.state.value,
                    state.consecutive_failures,
                    state.consecutive_successes,
                    last_at[monitor_id],
                    (state.verdict or Status.PASS).value,
                    monitor_id,
                )
                for monitor_id, state in states.items()
            ],
        )
        insert_probe_results(conn, results)
        upsert_component_states(conn, list(components.values()), reported)
        flip_ids = insert_flips(
            conn, [(monitor_id, flip, at) for monitor_id, flip, at, _ in flipping]
        )
        flipped = [
            (records[monitor_id], flip, flip_id, at)
            for (monitor_id, flip, at, _), flip_id in zip(flipping, flip_ids, strict=True)
            if flip.alert
        ]
        details = {
            monitor_id: judgement.details()
            for monitor_id, flip, _, judgement in flipping
            if flip.alert
        }
        alerts = insert_alerts(conn, flipped, self.base_url, details) if flipped else []
        verdicts = Counter(row.verdict for row in results)
        return ProbeBatchResult(
            len(results),
            [flip for _, flip, _, _ in flipping],
            [monitor_id for monitor_id, _, _, _ in flipping],
            alerts,
            retrying,
            dict(verdicts),
        )


def _with_what_recovered(
    conn: Connection, flipping: list[tuple[int, Flip, datetime, Judgement]]
) -> list[tuple[int, Flip, datetime, Judgement]]:
    """``flipping`` with each recovery's cause naming what broke, read from the monitor's
    last flip to down: ``status (200) == 200 (was: status (503) == 200)``. A flip to down
    earlier in the same batch is not stored yet, so it counts before the database's."""
    recovering = [monitor_id for monitor_id, flip, _, _ in flipping if flip.alert is AlertKind.UP]
    was = last_down_causes(conn, recovering)
    named: list[tuple[int, Flip, datetime, Judgement]] = []
    for monitor_id, flip, at, judgement in flipping:
        if flip.alert is AlertKind.DOWN:
            was[monitor_id] = flip.cause
        elif flip.alert is AlertKind.UP and monitor_id in was:
            flip = replace(flip, cause=f"{flip.cause} (was: {was[monitor_id]})")
        named.append((monitor_id, flip, at, judgement))
    return named


def _target(spec: ProbeSpec) -> HttpTarget | TcpTarget:
    if spec.kind is MonitorKind.TCP:
        return TcpTarget(
            spec.host, spec.port, timeout=spec.timeout, tls=spec.tls, verify_tls=spec.verify_tls
        )
    target = HttpTarget(
        spec.url,
        method=spec.method,
        headers=dict(spec.headers),
        body=spec.body.encode() if spec.body is not None else None,
        timeout=spec.timeout,
        follow_redirects=spec.max_redirects is not None,
        max_redirects=spec.max_redirects or 10,
        verify_tls=spec.verify_tls,
    )
    return app_target(target) if spec.kind is MonitorKind.APP else target


def _result_row(item: _Judged) -> ProbeResultRow:
    seen = item.outcome.observation
    timings = seen.timings
    reading = item.judgement.reading
    return ProbeResultRow(
        monitor_id=item.outcome.job.monitor_id,
        scheduled_at=item.outcome.scheduled_at,
        started_at=item.outcome.started_at,
        verdict=item.judgement.verdict.value,
        failure=item.judgement.failure.value if item.judgement.failure else None,
        error=item.judgement.error,
        status_code=seen.status,
        total_ms=timings.total_ms,
        timings={
            "dns_ms": timings.dns_ms,
            "connect_ms": timings.connect_ms,
            "tls_ms": timings.tls_ms,
            "first_byte_ms": timings.first_byte_ms,
            "cert_not_after": seen.cert_not_after.isoformat() if seen.cert_not_after else None,
        },
        outcomes=[o.to_json() for o in item.judgement.outcomes],
        components=[c.to_json() for c in reading.components] if reading is not None else None,
    )
