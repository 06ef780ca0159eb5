"""Count failed Celery tasks in Redis, per queue and task name, over a sliding window.

Celery keeps no record of failed tasks (a Redis broker has no dead-letter queue), so
``CeleryQueueCheck(..., failures=redis_url)`` cannot ask the broker how many tasks failed.
:func:`install_failure_counter` adds a ``task_failure`` hook that counts them instead::

    from tocsin.workers.celery_failures import install_failure_counter

    install_failure_counter(app)                     # Redis broker: counts in the broker
    install_failure_counter(app, "redis://cache/2")  # RabbitMQ broker: any Redis

Each failure is one ``HINCRBY`` on a per-minute hash (``tocsin:celery:failures:<queue>:
<minute>``, field = task name) that expires ``window`` seconds after its minute ends: memory
stays bounded by the number of queues, task names and minutes in the window, whatever the
failure rate.
A retry is not a failure; a task that fails after its last retry is.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import Celery
from celery.signals import task_failure

from tocsin.workers.keys import FAILURE_BUCKET_SECONDS, failures_key

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = 3600.0


class FailureCounter:
    """Records failures of ``queue``'s tasks in Redis, kept for ``window`` seconds."""

    def __init__(self, target: str | redis.Redis, *, window: float = DEFAULT_WINDOW) -> None:
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        self.client = (
            target
            if isinstance(target, redis.Redis)
            else redis.Redis.from_url(target, socket_timeout=2, socket_connect_timeout=2)
        )
        self.window = window

    def record(self, queue: str, task: str, *, now: float | None = None) -> None:
        """Count one failure of ``task`` on ``queue`` at ``now`` (default: now), one round trip."""
        when = time.time() if now is None else now
        bucket = int(when // FAILURE_BUCKET_SECONDS)
        key = failures_key("celery", queue, bucket)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, task, 1)
            pipe.expireat(key, int((bucket + 1) * FAILURE_BUCKET_SECONDS + self.window))
            pipe.execute()


def install_failure_counter(
    app: Celery, redis_url: str | None = None, *, window: float = DEFAULT_WINDOW
) -> FailureCounter:
    """Count every failed task of ``app`` in Redis (see the module doc); returns the counter.

    ``redis_url`` defaults to the broker URL when the broker is Redis. ``window`` is how
    long a failure is kept: at least the ``failed_window`` of the checks that read it. The
    queue is the message's routing key (the queue's name with Celery's default routing).
    A Redis error is logged and never fails the task or the worker.
    """
    url = redis_url or str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("install_failure_counter needs a Redis URL (the broker is not Redis)")
    counter = FailureCounter(url, window=window)

    def failed(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app:
            return
        delivery = getattr(sender.request, "delivery_info", None) or {}
        queue = delivery.get("routing_key") or str(sender.app.conf.task_default_queue)
        try:
            counter.record(queue, str(sender.name))
        except redis.RedisError as exc:
            logger.warning("failed task not counted task=%s error=%s", sender.name, exc)

    task_failure.connect(failed, weak=False, dispatch_uid=f"tocsin.failures.{id(app)}")
    return counter
