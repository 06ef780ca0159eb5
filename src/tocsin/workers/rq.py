"""RQ integration: a worker class with a fast liveness beat and proof-of-work heartbeats.

Run ``rq worker -w tocsin.workers.rq.TocsinWorker`` (or a subclass that sets
``heartbeat_urls``)::

    class Worker(TocsinWorker):
        liveness_interval = 5.0          # seconds between liveness beats
        liveness_ttl = 15.0              # a worker silent this long counts as dead
        heartbeat_urls = {"default": "https://tocsin.example/ping/<uuid>"}
        heartbeat_period = 60.0          # one heartbeat job per queue per period

Every ``heartbeat_period`` one worker of the pool (whichever takes a Redis lock first)
enqueues :func:`heartbeat_job` on each queue in ``heartbeat_urls``. The job waits in line
behind the real work and pings when it runs, so the ping proves the pool does work.
Without this worker class, schedule :func:`heartbeat_job` yourself (RQ's
``CronScheduler``) or use an RQ webhook (see ``docs/heartbeat-client.md``).
"""

from __future__ import annotations

import logging
from typing import Any

from rq import Queue, SimpleWorker, Worker, get_current_job
from rq.worker import BaseWorker

from tocsin.heartbeat import ping
from tocsin.workers.keys import PREFIX, RQ_IDENTITY_FIELD, default_identity
from tocsin.workers.liveness import LivenessBeat

logger = logging.getLogger(__name__)


def heartbeat_job(url: str) -> bool:
    """The heartbeat job: runs on the worker pool it vouches for, then pings ``url``."""
    job = get_current_job()
    who = job.worker_name if job is not None else None
    return ping(url, body=f"rq heartbeat job ran worker={who}", timeout=5.0, retries=2)


def heartbeat_expiry(period: float) -> int:
    """How long a heartbeat job may wait in the queue: 10 periods, at least 10 minutes.

    A backlog delays heartbeats (the monitor's grace covers that) rather than dropping
    them; a long outage does not leave an unbounded pile of stale ones.
    """
    return int(max(600.0, 10 * period))


def enqueue_heartbeat(queue: Queue, url: str, period: float = 60.0) -> Any:
    """Enqueue one :func:`heartbeat_job` on ``queue`` (see :func:`heartbeat_expiry`)."""
    return queue.enqueue(
        heartbeat_job,
        url,
        ttl=heartbeat_expiry(period),
        result_ttl=0,
        failure_ttl=heartbeat_expiry(period),
        description=f"tocsin heartbeat for queue {queue.name}",
    )


def heartbeat_lock_key(queue: str) -> str:
    """The lock that makes one worker per pool enqueue the heartbeat job each period."""
    return f"{PREFIX}:rq:heartbeat-lock:{queue}"


class TocsinWorkerMixin(BaseWorker):
    """Adds tocsin's liveness beat and heartbeat jobs to any RQ worker class.

    ``class MyWorker(TocsinWorkerMixin, SomeRQWorker)``; :class:`TocsinWorker` and
    :class:`TocsinSimpleWorker` are the two common ones.
    """

    liveness_interval: float = 5.0
    liveness_ttl: float = 15.0
    liveness_identity: str | None = None
    heartbeat_urls: dict[str, str] = {}
    heartbeat_period: float = 60.0

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """Start the liveness beat, then RQ's work loop; stop the beat when it ends."""
        beat = LivenessBeat(
            self.connection,
            self.queue_names(),
            kind="rq",
            interval=self.liveness_interval,
            ttl=self.liveness_ttl,
            identity=self._tocsin_identity(),
            on_beat=self._maybe_enqueue_heartbeats,
        )
        beat.start()
        try:
            return bool(super().work(*args, **kwargs))
        finally:
            beat.stop()

    def register_birth(self) -> None:
        """RQ's birth registration, plus this worker's liveness identity in RQ's hash."""
        super().register_birth()  # type: ignore[no-untyped-call]
        self.connection.hset(self.key, RQ_IDENTITY_FIELD, self._tocsin_identity())

    def _tocsin_identity(self) -> str:
        return self.liveness_identity or default_identity()

    def _maybe_enqueue_heartbeats(self) -> None:
        for queue in self.queues:
            url = self.heartbeat_urls.get(queue.name)
            if not url:
                continue
            lock = heartbeat_lock_key(queue.name)
            if self.connection.set(lock, self.name, nx=True, ex=max(1, int(self.heartbeat_period))):
                job = enqueue_heartbeat(queue, url, self.heartbeat_period)
                logger.info("heartbeat job enqueued queue=%s job_id=%s", queue.name, job.id)


class TocsinWorker(TocsinWorkerMixin, Worker):
    """RQ's forking worker with tocsin's liveness beat and heartbeat jobs."""


class TocsinSimpleWorker(TocsinWorkerMixin, SimpleWorker):
    """RQ's non-forking worker with tocsin's liveness beat and heartbeat jobs."""
