"""The example's RQ worker: RQ's worker plus tocsin's liveness beat and heartbeat job.

Run it with ``python worker.py`` (or ``rq worker -w worker.Worker``). Settings come
from the environment: ``REDIS_URL``, ``RQ_QUEUES``, ``HEARTBEAT_URL`` (the ping URL of a
tocsin heartbeat monitor), ``HEARTBEAT_PERIOD``, ``LIVENESS_INTERVAL``, ``LIVENESS_TTL``.
"""

from __future__ import annotations

import os

from redis import Redis
from rq import Queue

from tocsin.workers.rq import TocsinWorker

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUES = os.environ.get("RQ_QUEUES", "default").split(",")
HEARTBEAT_URL = os.environ.get("HEARTBEAT_URL")


class Worker(TocsinWorker):
    """Beats every few seconds; enqueues one heartbeat job per period on each queue."""

    liveness_interval = float(os.environ.get("LIVENESS_INTERVAL", "5"))
    liveness_ttl = float(os.environ.get("LIVENESS_TTL", "15"))
    heartbeat_urls = dict.fromkeys(QUEUES, HEARTBEAT_URL) if HEARTBEAT_URL else {}
    heartbeat_period = float(os.environ.get("HEARTBEAT_PERIOD", "60"))


def main() -> None:
    """Work on the configured queues until stopped."""
    connection = Redis.from_url(REDIS_URL)
    queues = [Queue(name, connection=connection) for name in QUEUES]
    Worker(queues, connection=connection).work(with_scheduler=True)


if __name__ == "__main__":
    main()
