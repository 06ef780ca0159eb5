"""The example's Celery app: a task, tocsin's publish stamp, liveness and heartbeat.

Run a worker with ``celery -A celery_app worker -Q emails -B``. Settings come from the
environment: ``BROKER_URL`` (Redis or RabbitMQ), ``CELERY_QUEUE``, ``LIVENESS_REDIS_URL``
(needed with RabbitMQ for the fast liveness beat), ``HEARTBEAT_URL`` (the ping URL of a
tocsin heartbeat monitor), ``HEARTBEAT_PERIOD``, ``LIVENESS_INTERVAL``, ``LIVENESS_TTL``.
"""

from __future__ import annotations

import os
import time

from celery import Celery

from tocsin.workers import celery as tocsin_celery

env = os.environ.get


def make_celery(
    broker_url: str = env("BROKER_URL", "redis://127.0.0.1:6379/0"),
    queue: str = env("CELERY_QUEUE", "emails"),
    liveness_url: str | None = env("LIVENESS_REDIS_URL"),
    heartbeat_url: str | None = env("HEARTBEAT_URL"),
    heartbeat_period: float = float(env("HEARTBEAT_PERIOD", "60")),
) -> Celery:
    """The Celery app; every task goes to ``queue``."""
    app = Celery("example", broker=broker_url)
    app.conf.update(
        task_default_queue=queue,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name="example.send_welcome_email", shared=False)
    def send_welcome_email(address: str) -> str:
        time.sleep(0.05)
        return f"sent to {address}"

    @app.task(name="example.nap", shared=False)
    def nap(seconds: float) -> None:
        time.sleep(seconds)

    # Producers stamp each message so /healthz can tell the age of the oldest one.
    tocsin_celery.stamp_publish_time()
    if liveness_url or broker_url.startswith("redis"):
        tocsin_celery.install_liveness(
            app,
            liveness_url,
            interval=float(env("LIVENESS_INTERVAL", "5")),
            ttl=float(env("LIVENESS_TTL", "15")),
        )
    if heartbeat_url:
        tocsin_celery.install_heartbeat(app, {queue: heartbeat_url}, period=heartbeat_period)
    return app


app = make_celery()
