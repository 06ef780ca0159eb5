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

from tests.conftest import venv_bin
from tests.health.procs import EXAMPLES, Processes, load_example, wait_until
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


@pytest.mark.slow
def test_celery_beat_heartbeat_pings_the_server_after_queued_work(
    redis_url: str, procs: Processes, tmp_path: Path
) -> None:
    celery = load_example("flask_celery", "app").make_celery(redis_url, "emails")
    with server_process.start_server(tmp_path / "server") as server:
        url = server.create_heartbeat_monitor("celery-pool", period_seconds=60, grace_seconds=120)
        celery.send_task("example.nap", args=[1.5])
        env = {
            "BROKER_URL": redis_url,
            "CELERY_QUEUE": "emails",
            "HEARTBEAT_URL": url,
            "HEARTBEAT_PERIOD": "0.5",
        }
        args = [venv_bin("celery"), "-A", "celery_app", "worker", "-B", "-Q", "emails"]
        args += ["-c", "1", "--without-mingle", "--without-gossip"]
        args += ["-s", str(tmp_path / "beat-schedule")]
        started = time.time()
        procs.start(args, cwd=EXAMPLES / "flask_celery", env=env)
        pings = wait_until(lambda: server.pings(url), lambda p: len(p) >= 1, timeout=25)
        assert pings[0]["kind"] == "success"
        # One worker process: the nap ran first, the heartbeat task only after it.
        assert min(_when(p["created_at"]) for p in pings) >= started + 1.5
    celery.close()
