"""RQ queues, read-only: depth, oldest job age, failed, stuck, overdue, workers.

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
from typing import Any

import redis

from tocsin.health.check import DEFAULT_TIMEOUT, Check
from tocsin.health.checks.redis import connect, describe
from tocsin.health.model import Measurement
from tocsin.health.thresholds import NEVER, Threshold, above, below
from tocsin.workers.keys import alive_key, beats_key

ANY_IS_WARN = above(warn=1)
STARTED_SAMPLE = 50
"""How many started jobs are inspected for running past their timeout."""
DEFAULT_JOB_TIMEOUT = 180.0
"""RQ's job timeout when a job stores none."""
NONE_IS_FAIL = below(fail=0)

MEASUREMENTS = (
    "queue_depth",
    "oldest_job_age",
    "failed_jobs",
    "started_jobs",
    "stuck_jobs",
    "overdue_scheduled_jobs",
    "workers",
    "worker_heartbeat_age",
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
    (default: fail at 0 live workers).
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
        }
        p = key_prefix
        self.keys = {
            "queue": f"{p}:queue:{queue}",
            "workers": f"{p}:workers:{queue}",
            "wip": f"{p}:wip:{queue}",
            "failed": f"{p}:failed:{queue}",
            "scheduled": f"{p}:scheduled:{queue}",
            "job": f"{p}:job:",
        }
        self.server = describe(self.client)
        self.timeout_grace = timeout_grace

    def collect(self) -> list[Measurement]:
        """Two pipelined round trips, no writes."""
        k = self.keys
        now = time.time()
        with self.client.pipeline(transaction=False) as pipe:
            pipe.smembers(k["workers"])
            pipe.llen(k["queue"])
            pipe.lindex(k["queue"], 0)
            pipe.zcard(k["failed"])
            pipe.zcard(k["wip"])
            pipe.zcount(k["wip"], "-inf", now)
            pipe.zcount(k["scheduled"], "-inf", now)
            pipe.zrange(alive_key("rq", self.queue), 0, -1, withscores=True)
            pipe.hgetall(beats_key("rq", self.queue))
            pipe.zrange(k["wip"], 0, STARTED_SAMPLE - 1)
            rows = pipe.execute()
        rq_workers, depth, head, failed, started, expired, overdue, alive, beats, wip = rows
        rq_worker_keys = sorted(_text(w) or "" for w in rq_workers)
        fast = bool(alive)
        with self.client.pipeline(transaction=False) as pipe:
            if head is not None:
                pipe.hget(k["job"] + (_text(head) or ""), "enqueued_at")
            for member in wip:
                job_id = (_text(member) or "").rpartition(":")[0] or _text(member)
                pipe.hmget(k["job"] + (job_id or ""), "started_at", "timeout")
            if not fast:
                for key in rq_worker_keys:
                    pipe.hmget(key, "last_heartbeat", "death")
            second = pipe.execute()
        enqueued = parse_rq_time(second.pop(0)) if head is not None else None
        overtime = sum(self._past_timeout(row, now) for row in second[: len(wip)])
        del second[: len(wip)]
        # Expired execution heartbeats (RQ's view, +60 s late) or jobs past their timeout.
        stuck = max(int(expired), overtime)
        age = round(max(0.0, now - enqueued.timestamp()), 3) if enqueued else None
        if fast:
            live, last_beat, source = self._tocsin_workers(alive, beats, now)
        else:
            live, last_beat, source = self._rq_workers(second)
        beat_age = round(max(0.0, now - last_beat), 3) if last_beat is not None else None
        m = self._m
        return [
            m("queue_depth", depth, "jobs"),
            m("oldest_job_age", age, "s", "" if age is not None else "queue empty"),
            m("failed_jobs", failed, "jobs", "failed-job registry"),
            m("started_jobs", started, "jobs"),
            m("stuck_jobs", stuck, "jobs", "started jobs past their timeout or heartbeat"),
            m("overdue_scheduled_jobs", overdue, "jobs", "scheduled jobs past due"),
            m("workers", live, "workers", f"live workers ({source})"),
            m("worker_heartbeat_age", beat_age, "s", f"newest worker heartbeat ({source})"),
        ]

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

    @staticmethod
    def _tocsin_workers(
        alive: list[tuple[bytes, float]], beats: dict[bytes, bytes], now: float
    ) -> tuple[int, float | None, str]:
        live = [member for member, expires in alive if expires > now]
        times = [float(v) for v in beats.values()]
        return len(live), max(times, default=None), "tocsin heartbeat"

    @staticmethod
    def _rq_workers(rows: list[list[Any]]) -> tuple[int, float | None, str]:
        live = 0
        newest: float | None = None
        for last_heartbeat, death in rows:
            if last_heartbeat is None or death is not None:
                continue
            live += 1
            beat = parse_rq_time(last_heartbeat)
            if beat is not None:
                newest = max(newest or 0.0, beat.timestamp())
        return live, newest, "rq worker heartbeat"
