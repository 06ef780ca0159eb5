"""The demo's RQ worker: tocsin's ``TocsinWorker`` with a fast liveness beat and a pool
heartbeat that pings the demo server.

Run by ``tocsin demo`` as ``python -m tocsin.demo.worker``; settings come from the
environment: ``DEMO_REDIS_URL`` and ``DEMO_HEARTBEAT_URL``.
"""

from __future__ import annotations

import os

from redis import Redis
from rq import Queue

from tocsin.demo.app import QUEUE
from tocsin.workers.rq import TocsinWorker

HEARTBEAT_SECONDS = 10.0


class DemoWorker(TocsinWorker):
    """Beats every second and counts as dead 3 s after its last beat, so a killed worker
    shows on ``/healthz`` within seconds."""

    liveness_interval = 1.0
    liveness_ttl = 3.0
    heartbeat_urls = {QUEUE: os.environ.get("DEMO_HEARTBEAT_URL", "")}
    heartbeat_period = HEARTBEAT_SECONDS


def main() -> None:
    """Work on the demo queue until stopped."""
    connection = Redis.from_url(os.environ["DEMO_REDIS_URL"])
    DemoWorker([Queue(QUEUE, connection=connection)], connection=connection).work(
        with_scheduler=False
    )


if __name__ == "__main__":
    main()
