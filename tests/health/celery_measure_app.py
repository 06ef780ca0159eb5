"""A Celery app for the measurement tests: a task held unacked, a task that fails.

Workers run it with ``celery -A tests.health.celery_measure_app worker``; settings come from
the environment: ``BROKER_URL``, ``CELERY_QUEUE`` and ``FAILURES_REDIS_URL`` (where the
failure counter counts; unset: no counter).
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from celery import Celery

from tocsin.workers import celery as tocsin_celery
from tocsin.workers.celery_failures import install_failure_counter

HOLD = "measure.hold"
EXPLODE = "measure.explode"
QUICK = "measure.quick"


def make_app(broker_url: str, queue: str, failures_redis_url: str | None = None) -> Celery:
    """The app; every task goes to ``queue``; ``hold`` acknowledges only when it ends."""
    app = Celery("measure", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_prefetch_multiplier=1,
    )

    @app.task(name=HOLD, acks_late=True, shared=False)
    def hold(seconds: float) -> None:
        time.sleep(seconds)

    @app.task(name=EXPLODE, shared=False)
    def explode(message: str) -> None:
        raise RuntimeError(message)

    @app.task(name=QUICK, shared=False)
    def quick() -> str:
        return "done"

    tocsin_celery.stamp_publish_time()
    if broker_url.startswith("redis"):
        tocsin_celery.install_liveness(app, interval=0.5, ttl=2)
    if failures_redis_url:
        install_failure_counter(app, failures_redis_url)
    return app


@functools.cache
def _from_environment() -> Celery:
    env = os.environ
    return make_app(env["BROKER_URL"], env["CELERY_QUEUE"], env.get("FAILURES_REDIS_URL"))


def __getattr__(name: str) -> Any:
    """``app``, made from the environment when a worker imports this module."""
    if name != "app":
        raise AttributeError(name)
    return _from_environment()
