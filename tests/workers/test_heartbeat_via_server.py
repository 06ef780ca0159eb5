"""End to end: the RQ pool's heartbeat job pings a real tocsin server only after it ran."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue

from tests.health.procs import EXAMPLES, Processes, wait_until
from tocsin.workers.rq import enqueue_heartbeat

server_process = pytest.importorskip(
    "tests.server_process", reason="tests/server_process.py (the server test helper) is missing"
)


def _when(value: Any) -> float:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


@pytest.mark.slow
def test_rq_heartbeat_job_pings_the_server_after_it_ran(
    redis_url: str, procs: Processes, tmp_path: Path
) -> None:
    with server_process.start_server(tmp_path) as server:
        url = server.create_heartbeat_monitor("rq-pool", period_seconds=60, grace_seconds=120)
        queue = Queue("default", connection=redis.Redis.from_url(redis_url))
        enqueue_heartbeat(queue, url, period=60)
        nap = queue.enqueue("jobs.nap", 1.5)
        time.sleep(0.5)
        assert server.pings(url) == []  # the heartbeat job is queued, nobody ran it

        env = {
            "REDIS_URL": redis_url,
            "LIVENESS_INTERVAL": "0.5",
            "LIVENESS_TTL": "2",
            "HEARTBEAT_URL": url,
            "HEARTBEAT_PERIOD": "1",
        }
        procs.start([sys.executable, "worker.py"], cwd=EXAMPLES / "flask_rq", env=env)
        pings = wait_until(lambda: server.pings(url), lambda p: len(p) >= 2, timeout=20)
        nap.refresh()
        assert nap.ended_at is not None
        assert all(p["kind"] == "success" for p in pings)
        times = sorted(_when(p["created_at"]) for p in pings)
        # The first heartbeat job was queued before the nap and ran before it; every
        # later one was enqueued by the pool behind the nap and pinged after it ended.
        assert times[1] >= nap.ended_at.timestamp()
