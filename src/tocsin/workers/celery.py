"""Celery integration: publish-time stamps, liveness beats and proof-of-work heartbeats.

In your Celery app module::

    from tocsin.workers import celery as tocsin_celery

    tocsin_celery.stamp_publish_time()                  # producers: oldest-task age
    tocsin_celery.install_liveness(app)                 # workers: fast liveness keys
    tocsin_celery.install_heartbeat(app, {"emails": "https://tocsin.example/ping/<uuid>"})
    tocsin_celery.install_beat_liveness(app)            # beat: /healthz celery:beat_age
    tocsin_celery.monitor_beat(app, "https://tocsin.example", ping_key=..., api_key=...)

``install_heartbeat`` adds one beat entry per queue; run ``celery beat`` (or a worker
with ``-B``). The heartbeat task is routed to that queue, waits behind the real work
and pings when a worker of that pool runs it, so the ping proves the pool works.
``install_beat_liveness`` (:mod:`tocsin.workers.celery_beat`) proves beat still
schedules; ``monitor_beat`` (:mod:`tocsin.workers.celery_monitors`) watches every beat
entry with a heartbeat monitor made from its schedule.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import redis
from celery import Celery, Task
from celery.signals import before_task_publish, worker_ready, worker_shutdown

from tocsin.heartbeat import ping
from tocsin.workers.celery_beat import install_beat_liveness
from tocsin.workers.celery_monitors import HEARTBEAT_TASK, monitor_beat
from tocsin.workers.keys import SENT_AT_HEADER
from tocsin.workers.liveness import LivenessBeat

__all__ = [
    "HEARTBEAT_TASK",
    "install_beat_liveness",
    "install_heartbeat",
    "install_liveness",
    "monitor_beat",
    "stamp_publish_time",
]

logger = logging.getLogger(__name__)


def _stamp(
    sender: Any = None,
    headers: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    # The header serves Redis brokers; the AMQP timestamp property (whole seconds) is what
    # RabbitMQ's management API reports as the queue's head_message_timestamp.
    now = time.time()
    if headers is not None:
        headers.setdefault(SENT_AT_HEADER, now)
    if properties is not None:
        properties.setdefault("timestamp", int(now))


def stamp_publish_time() -> None:
    """Add a ``tocsin_sent_at`` header to every task this process publishes (idempotent)."""
    before_task_publish.connect(_stamp, weak=False, dispatch_uid="tocsin.stamp_publish_time")


def install_heartbeat(app: Celery, urls: Mapping[str, str], *, period: float = 60.0) -> Task:
    """Register the heartbeat task and one beat entry per ``queue: ping URL``.

    Each message expires after 10 periods (at least 10 minutes): a backlog delays
    heartbeats rather than dropping them, and a long outage leaves no pile of stale
    ones. Returns the task.
    """

    @app.task(name=HEARTBEAT_TASK, bind=True, ignore_result=True, shared=False)  # type: ignore[untyped-decorator]
    def heartbeat(self: Task, url: str) -> bool:
        worker = self.request.hostname
        return ping(url, body=f"celery heartbeat task ran worker={worker}", timeout=5.0)

    schedule = dict(app.conf.beat_schedule or {})
    for queue, url in urls.items():
        schedule[f"tocsin-heartbeat-{queue}"] = {
            "task": HEARTBEAT_TASK,
            "schedule": period,
            "args": (url,),
            "options": {"queue": queue, "expires": max(600.0, 10 * period)},
        }
    app.conf.beat_schedule = schedule
    task: Task = heartbeat
    return task


def install_liveness(
    app: Celery,
    redis_url: str | None = None,
    *,
    interval: float = 5.0,
    ttl: float = 15.0,
) -> None:
    """Run a liveness beat in each worker's main process for the queues it consumes.

    ``redis_url`` defaults to the broker URL when the broker is Redis; with RabbitMQ,
    pass a Redis URL (the health check reads the same one).
    """
    url = redis_url or str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("install_liveness needs a Redis URL (the broker is not Redis)")
    beats: dict[str, LivenessBeat] = {}

    def started(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app:
            return
        queues = [q.name for q in sender.task_consumer.queues]
        beat = LivenessBeat(
            redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5),
            queues,
            kind="celery",
            interval=interval,
            ttl=ttl,
            identity=f"{sender.hostname}",
        )
        beat.start()
        beats[sender.hostname] = beat
        logger.info("liveness beat started worker=%s queues=%s", sender.hostname, queues)

    def stopped(**_: Any) -> None:
        while beats:
            beats.popitem()[1].stop()

    worker_ready.connect(started, weak=False, dispatch_uid=f"tocsin.liveness.{id(app)}")
    worker_shutdown.connect(stopped, weak=False, dispatch_uid=f"tocsin.liveness.stop.{id(app)}")
