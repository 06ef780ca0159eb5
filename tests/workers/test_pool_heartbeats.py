"""Worker-pool heartbeats prove work: pings come from jobs that ran on the pool's queue."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from rq import Queue

from tests.conftest import venv_bin
from tests.health.procs import EXAMPLES, Processes, load_example, wait_until
from tests.workers.receiver import PingReceiver, ping_receiver
from tocsin.workers.keys import alive_key, beats_key
from tocsin.workers.liveness import LivenessBeat
from tocsin.workers.rq import TocsinSimpleWorker, enqueue_heartbeat


@pytest.fixture
def receiver() -> Iterator[PingReceiver]:
    with ping_receiver() as running:
        yield running


def start_rq_worker(procs: Processes, redis_url: str, **env: str) -> Any:
    settings = {"REDIS_URL": redis_url, "LIVENESS_INTERVAL": "0.5", "LIVENESS_TTL": "2", **env}
    return procs.start([sys.executable, "worker.py"], cwd=EXAMPLES / "flask_rq", env=settings)


def test_liveness_beat_writes_and_forgets(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    beat = LivenessBeat(client, ["a", "b"], kind="rq", interval=0.2, ttl=1.0, identity="w1")
    beat.start()
    try:
        for queue in ("a", "b"):
            expires = client.zscore(alive_key("rq", queue), "w1")
            assert expires is not None and expires > time.time()
            assert client.hget(beats_key("rq", queue), "w1") is not None
        first = client.zscore(alive_key("rq", "a"), "w1")
        time.sleep(0.5)
        assert client.zscore(alive_key("rq", "a"), "w1") > first
    finally:
        beat.stop()
    assert client.zscore(alive_key("rq", "a"), "w1") is None
    with pytest.raises(ValueError, match="interval < ttl"):
        LivenessBeat(client, ["a"], kind="rq", interval=2, ttl=1)
    client.close()


@pytest.mark.slow
def test_rq_heartbeat_job_pings_only_after_it_ran_behind_real_work(
    redis_url: str, procs: Processes, receiver: PingReceiver
) -> None:
    connection = redis.Redis.from_url(redis_url)
    queue = Queue("default", connection=connection)
    url = receiver.url("rq-pool")
    enqueue_heartbeat(queue, url, period=60)
    time.sleep(0.5)
    assert receiver.requests == []  # queued, no worker: no ping

    # Real work ahead of the next heartbeat job: the worker is busy for 1.5 s.
    nap = queue.enqueue("jobs.nap", 1.5)
    start_rq_worker(procs, redis_url, HEARTBEAT_URL=url, HEARTBEAT_PERIOD="1")
    wait_until(lambda: len(receiver.requests), lambda n: n >= 3, timeout=20)
    nap.refresh()
    assert nap.ended_at is not None
    pings_after_nap = [r for r in receiver.requests if r.wall >= nap.ended_at.timestamp()]
    assert len(pings_after_nap) == len(receiver.requests) - 1  # only the first one preceded it
    assert all(r.path == "/ping/rq-pool" for r in receiver.requests)
    assert "rq heartbeat job ran worker=" in receiver.requests[-1].body


@pytest.mark.slow
def test_celery_beat_heartbeat_runs_on_the_queue_after_real_work(
    redis_url: str, procs: Processes, receiver: PingReceiver, tmp_path: Any
) -> None:
    celery_module = load_example("flask_celery", "app")
    celery = celery_module.make_celery(redis_url, "emails")
    celery.send_task("example.nap", args=[1.5])
    url = receiver.url("celery-pool")
    env = {
        "BROKER_URL": redis_url,
        "CELERY_QUEUE": "emails",
        "HEARTBEAT_URL": url,
        "HEARTBEAT_PERIOD": "0.5",
    }
    args = [venv_bin("celery"), "-A", "celery_app", "worker", "-B", "-Q", "emails", "-c", "1"]
    args += ["--without-mingle", "--without-gossip", "-s", str(tmp_path / "beat-schedule")]
    started = time.monotonic()
    procs.start(args, cwd=EXAMPLES / "flask_celery", env=env)
    wait_until(lambda: len(receiver.requests), lambda n: n >= 2, timeout=25, step=0.2)
    # The single worker process ran the 1.5 s nap first; heartbeats queued behind it.
    assert receiver.requests[0].at - started >= 1.5
    assert receiver.requests[0].body.startswith("celery heartbeat task ran worker=")
    celery.close()


def test_simple_worker_in_burst_mode_runs_its_heartbeat_job(
    redis_url: str, receiver: PingReceiver
) -> None:
    connection = redis.Redis.from_url(redis_url)

    class Worker(TocsinSimpleWorker):
        liveness_interval = 0.2
        liveness_ttl = 1.0
        heartbeat_urls = {"default": receiver.url("burst")}

    queue = Queue("default", connection=connection)
    Worker([queue], connection=connection).work(burst=True)
    assert [r.path for r in receiver.requests] == ["/ping/burst"]
    assert "rq heartbeat job ran worker=" in receiver.requests[0].body
    assert connection.zcard(alive_key("rq", "default")) == 0  # a clean stop forgets the worker
    connection.close()
