"""RQ queues, read-only: depth, oldest job age, failed, stuck, overdue, workers, suspension.

Works with rq 2.x and 3.x by reading RQ's Redis keys directly in two pipelined round
trips, whatever the number of workers. Nothing here writes: RQ's own counters
(``registry.count``, ``len(registry)``) run clean-up with side effects, so they are
never called. Worker liveness comes from tocsin's fast heartbeat
(:mod:`tocsin.workers.rq`) when a worker runs it, and from RQ's own (minutes coarse)
worker hashes otherwise.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

import redis

from tocsin.health.check import DEFAULT_TIMEOUT, Check
from tocsin.health.checks.redis import connect, describe
from tocsin.health.model import Measurement, Status
from tocsin.health.thresholds import NEVER, Threshold, above, below
from tocsin.workers.keys import RQ_IDENTITY_FIELD, alive_key, beats_key

ANY_IS_WARN = above(warn=1)
STARTED_SAMPLE = 50
"""How many started jobs are inspected for running past their timeout."""
DEFAULT_JOB_TIMEOUT = 180.0
"""RQ's job timeout when a job stores none."""
NONE_IS_FAIL = below(fail=0)
NAMES_SHOWN = 10
"""How many live workers the ``rq:workers`` output names."""
TOCSIN_BEAT = "tocsin heartbeat"
RQ_BEAT = "rq worker heartbeat"
BUSY = "busy"
IDLE_STATES = frozenset({"idle", "started", "suspended"})
"""RQ worker states that mean "not running a job" (``started``: just born)."""

MEASUREMENTS = (
    "queue_depth",
    "oldest_job_age",
    "failed_jobs",
    "started_jobs",
    "stuck_jobs",
    "overdue_scheduled_jobs",
    "workers",
    "worker_heartbeat_age",
    "busy_workers",
    "idle_workers",
    "suspended",
)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_rq_time(value: Any) -> dt.datetime | None:
    """An RQ timestamp (``2026-11-24T21:50:14.123456Z``) as an aware UTC datetime."""
    text = _text(value)
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


class RQQueueCheck(Check):
    """One RQ queue. Reports ``rq:<measurement>`` entries with ``componentId`` = the queue.

    Thresholds (``Threshold``/``above``/``below``): ``depth`` (jobs), ``age`` (seconds the
    next job has waited, against your SLA), ``failed`` (default: warn at 1), ``stuck``
    (started jobs past their timeout plus ``timeout_grace`` seconds, or whose execution
    heartbeat expired; the first 50 started jobs are examined; default warn at 1), ``overdue``
    (scheduled jobs past due: no scheduler running, default warn at 1) and ``workers``
    (default: fail at 0 live workers), ``heartbeat_age`` (seconds since the newest worker
    beat), ``busy`` and ``idle`` (live workers running a job or not, from the ``state`` field
    of RQ's worker hashes; ``idle=below(warn=0)`` warns when every worker is busy).
    ``suspended`` is the status of ``rq:suspended`` while ``rq suspend`` is in force
    (default ``fail``: no worker takes jobs).
    """

    def __init__(
        self,
        target: str | redis.Redis,
        queue: str = "default",
        *,
        depth: Threshold = NEVER,
        age: Threshold = NEVER,
        failed: Threshold = ANY_IS_WARN,
        stuck: Threshold = ANY_IS_WARN,
        overdue: Threshold = ANY_IS_WARN,
        workers: Threshold = NONE_IS_FAIL,
        heartbeat_age: Threshold = NEVER,
        busy: Threshold = NEVER,
        idle: Threshold = NEVER,
        suspended: Status | str = Status.FAIL,
        key_prefix: str = "rq",
        timeout_grace: float = 5.0,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        self.client = connect(target, timeout)
        super().__init__(
            component="rq",
            measurements=MEASUREMENTS,
            component_type="queue",
            component_id=queue,
            timeout=timeout,
            **options,
        )
        self.queue = queue
        self.thresholds = {
            "queue_depth": depth,
            "oldest_job_age": age,
            "failed_jobs": failed,
            "stuck_jobs": stuck,
            "overdue_scheduled_jobs": overdue,
            "workers": workers,
            "worker_heartbeat_age": heartbeat_age,
            "busy_workers": busy,
            "idle_workers": idle,
        }
        self.suspended_status = Status(suspended)
        p = key_prefix
        self.keys = {
            "queue": f"{p}:queue:{queue}",
            "workers": f"{p}:workers:{queue}",
            "wip": f"{p}:wip:{queue}",
            "failed": f"{p}:failed:{queue}",
            "scheduled": f"{p}:scheduled:{queue}",
            "job": f"{p}:job:",
            "worker": f"{p}:worker:",
            "suspended": f"{p}:suspended",  # rq suspend: every worker of this Redis pauses
        }
        self.server = describe(self.client)
        self.timeout_grace = timeout_grace

    head_scan = 20
    """How many job ids at the head of the queue are examined for the oldest live job."""

    def collect(self) -> list[Measurement]:
        """Two pipelined round trips, no writes."""
        k = self.keys
        now = time.time()
        with self.client.pipeline(transaction=False) as pipe:
            pipe.smembers(k["workers"])
            pipe.llen(k["queue"])
            pipe.lrange(k["queue"], 0, self.head_scan - 1)
            pipe.zcard(k["failed"])
            pipe.zcard(k["wip"])
            pipe.zcount(k["wip"], "-inf", now)
            pipe.zcount(k["scheduled"], "-inf", now)
            pipe.zrange(alive_key("rq", self.queue), 0, -1, withscores=True)
            pipe.hgetall(beats_key("rq", self.queue))
            pipe.zrange(k["wip"], 0, STARTED_SAMPLE - 1)
            pipe.exists(k["suspended"])
            rows = pipe.execute()
        rq_workers, depth, heads, failed, started, expired, overdue, alive, beats, wip = rows[:-1]
        suspended = bool(rows[-1])
        rq_worker_keys = sorted(_text(w) or "" for w in rq_workers)
        with self.client.pipeline(transaction=False) as pipe:
            for head in heads:
                pipe.hget(k["job"] + (_text(head) or ""), "enqueued_at")
            for member in wip:
                job_id = (_text(member) or "").rpartition(":")[0] or _text(member)
                pipe.hmget(k["job"] + (job_id or ""), "started_at", "timeout")
            for key in rq_worker_keys:
                pipe.hmget(
                    key, "last_heartbeat", "death", "hostname", "pid", RQ_IDENTITY_FIELD, "state"
                )
            second = pipe.execute()
        age = self._oldest_live_job(second[: len(heads)], int(depth), now)
        del second[: len(heads)]
        overtime = sum(self._past_timeout(row, now) for row in second[: len(wip)])
        del second[: len(wip)]
        # Expired execution heartbeats (RQ's view, +60 s late) or jobs past their timeout.
        stuck = max(int(expired), overtime)
        live, last_beat, source = self._workers(
            alive, beats, dict(zip(rq_worker_keys, second, strict=True)), now
        )
        beat_age = round(max(0.0, now - last_beat), 3) if last_beat is not None else None
        busy = [name for name, state in live if state == BUSY]
        idle = [name for name, state in live if state in IDLE_STATES]
        m = self._m
        return [
            m("queue_depth", depth, "jobs"),
            age,
            m("failed_jobs", failed, "jobs", "failed-job registry"),
            m("started_jobs", started, "jobs"),
            m("stuck_jobs", stuck, "jobs", "started jobs past their timeout or heartbeat"),
            m("overdue_scheduled_jobs", overdue, "jobs", "scheduled jobs past due"),
            m("workers", len(live), "workers", "live workers: " + _names(n for n, _ in live)),
            m("worker_heartbeat_age", beat_age, "s", f"newest worker heartbeat ({source})"),
            m("busy_workers", len(busy), "workers", "busy: " + _names(busy)),
            m("idle_workers", len(idle), "workers", "idle: " + _names(idle)),
            self._suspension(suspended),
        ]

    def _suspension(self, suspended: bool) -> Measurement:
        if not suspended:
            return self.measure("suspended", False, output="workers take jobs")
        note = f"rq suspend is in force ({self.keys['suspended']}): no worker takes jobs; rq resume"
        return self.measure("suspended", True, output=note, status=self.suspended_status)

    def _oldest_live_job(self, enqueued: list[Any], depth: int, now: float) -> Measurement:
        """The age of the first job at the head whose hash still exists.

        A job whose ``ttl`` ran out while it waited loses its hash but keeps its id in the
        queue (RQ skips it when a worker pops it): those ids are skipped.
        """
        times = [parse_rq_time(value) for value in enqueued]
        live = next(((i, t) for i, t in enumerate(times) if t is not None), None)
        if live is not None:
            skipped, enqueued_at = live
            age = round(max(0.0, now - enqueued_at.timestamp()), 3)
            note = f"{skipped} expired job{'s' if skipped != 1 else ''} skipped" if skipped else ""
            return self._m("oldest_job_age", age, "s", note)
        if depth > len(times):
            note = f"first {len(times)} jobs expired (ttl); age of the rest unknown"
            return self.measure("oldest_job_age", None, unit="s", output=note, status=Status.WARN)
        note = f"only expired jobs ({depth}) left" if depth else "queue empty"
        return self._m("oldest_job_age", None, "s", note)

    def _past_timeout(self, row: list[Any], now: float) -> bool:
        started_at, timeout = parse_rq_time(row[0]), _text(row[1])
        if started_at is None:
            return False
        try:
            seconds = float(timeout) if timeout else DEFAULT_JOB_TIMEOUT
        except ValueError:
            return False
        if seconds < 0:  # -1: no timeout
            return False
        return now > started_at.timestamp() + seconds + self.timeout_grace

    def _m(self, name: str, value: Any, unit: str, output: str = "") -> Measurement:
        return self.measure(
            name, value, unit=unit, threshold=self.thresholds.get(name, NEVER), output=output
        )

    def _workers(
        self,
        alive: list[tuple[bytes, float]],
        beats: dict[bytes, bytes],
        rq_hashes: dict[str, list[Any]],
        now: float,
    ) -> tuple[list[tuple[str, str | None]], float | None, str]:
        """Live workers as (``name (source)``, RQ state), the newest beat and its source.

        A worker that runs tocsin's liveness beat is judged by it alone (RQ's own hash
        outlives a killed worker by minutes); every other RQ worker by RQ's heartbeat. A
        tocsin worker is recognised by the identity it writes into RQ's hash or, for a
        worker without it, by ``hostname:pid`` (the default identity); its state comes
        from that hash.
        """
        known = {_text(member) for member, _ in alive}
        tocsin_states: dict[str | None, tuple[str, str | None]] = {}  # identity: (beat, state)
        live: list[tuple[str, str | None]] = []
        newest = max((float(v) for v in beats.values()), default=None)
        source = TOCSIN_BEAT
        for key, (last_heartbeat, death, hostname, pid, identity, state) in rq_hashes.items():
            own = _text(identity) or f"{_text(hostname)}:{_text(pid)}"
            if identity is not None or own in known:
                beat_text = _text(last_heartbeat) or ""
                # A killed worker's stale hash may carry the same configured identity.
                if death is None and beat_text >= tocsin_states.get(own, ("", None))[0]:
                    tocsin_states[own] = (beat_text, _text(state))
                continue
            if last_heartbeat is None or death is not None:
                continue
            live.append((f"{key.removeprefix(self.keys['worker'])} ({RQ_BEAT})", _text(state)))
            beat = parse_rq_time(last_heartbeat)
            if beat is not None and (newest is None or beat.timestamp() > newest):
                newest, source = beat.timestamp(), RQ_BEAT
        tocsin_live = [
            (f"{_text(m)} ({TOCSIN_BEAT})", tocsin_states.get(_text(m), ("", None))[1])
            for m, expires in sorted(alive)
            if expires > now
        ]
        return tocsin_live + live, newest, source


def _names(names: Iterable[str]) -> str:
    """``a (tocsin heartbeat), b (rq worker heartbeat)``: the first few, or ``none``."""
    listed = list(names)
    shown = ", ".join(listed[:NAMES_SHOWN]) or "none"
    more = f" and {len(listed) - NAMES_SHOWN} more" if len(listed) > NAMES_SHOWN else ""
    return shown + more
