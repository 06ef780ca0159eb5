"""The RQ example app's /healthz against real Redis and real RQ workers."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sys
import time
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue

from tests.conftest import venv_bin
from tests.health.procs import EXAMPLES, ROOT, Processes, entry, load_example, wait_until
from tocsin.health import HealthChecker, above
from tocsin.health.checks.rq import RQQueueCheck

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_app(redis_url: str, **overrides: Any) -> Flask:
    """The example API with a short cache, for tests."""
    module = load_example("flask_rq", "app")
    options: dict[str, Any] = {"token": TOKEN, "cache_seconds": 0.2, "job_age_sla": 60.0}
    options.update(overrides)
    app: Flask = module.create_app(redis_url, ["default"], **options)
    return app


def healthz(app: Flask) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/healthz", headers=AUTH)
    assert response.content_type == "application/health+json"
    return response.status_code, response.get_json()


def start_worker(procs: Processes, redis_url: str, **env: str) -> Any:
    settings = {"REDIS_URL": redis_url, "LIVENESS_INTERVAL": "0.5", "LIVENESS_TTL": "2"}
    settings.update(env)
    return procs.start([sys.executable, "worker.py"], cwd=EXAMPLES / "flask_rq", env=settings)


def workers_value(app: Flask) -> Any:
    return entry(healthz(app)[1], "rq:workers", "default")["observedValue"]


def test_backlog_without_workers_shows_depth_growing_age_and_no_workers(redis_url: str) -> None:
    app = make_app(redis_url)
    queue = Queue("default", connection=redis.Redis.from_url(redis_url))
    for i in range(100):
        queue.enqueue("jobs.send_welcome_email", f"user{i}@example.com")
    queue.enqueue_at(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5), "jobs.nap", 0)

    status, body = healthz(app)
    assert status == 503
    assert body["status"] == "fail"
    depth = entry(body, "rq:queue_depth", "default")
    assert depth["observedValue"] == 100
    assert depth["observedUnit"] == "jobs"
    first_age = entry(body, "rq:oldest_job_age", "default")["observedValue"]
    assert first_age >= 0
    workers = entry(body, "rq:workers", "default")
    assert (workers["observedValue"], workers["status"]) == (0, "fail")
    assert "rq:workers" in body["output"]
    overdue = entry(body, "rq:overdue_scheduled_jobs", "default")
    assert (overdue["observedValue"], overdue["status"]) == (1, "warn")
    assert {
        "componentId",
        "componentType",
        "observedValue",
        "observedUnit",
        "status",
        "time",
        "output",
    } <= set(depth)

    time.sleep(0.6)
    later = entry(healthz(app)[1], "rq:oldest_job_age", "default")["observedValue"]
    assert later >= first_age + 0.4


def test_job_age_past_sla_fails(redis_url: str) -> None:
    app = make_app(redis_url, job_age_sla=0.5)
    Queue("default", connection=redis.Redis.from_url(redis_url)).enqueue("jobs.nap", 0)
    time.sleep(0.6)
    age = entry(healthz(app)[1], "rq:oldest_job_age", "default")
    assert age["status"] == "fail"
    assert "fail level 0.5" in age["output"]


@pytest.mark.slow
def test_failing_job_counts_as_failed_and_warns(redis_url: str, procs: Processes) -> None:
    app = make_app(redis_url)
    start_worker(procs, redis_url)
    wait_until(lambda: workers_value(app), lambda n: n == 1, timeout=15)
    queue = Queue("default", connection=redis.Redis.from_url(redis_url))
    queue.enqueue("jobs.explode", "boom")
    body = wait_until(
        lambda: healthz(app)[1],
        lambda b: entry(b, "rq:failed_jobs", "default")["observedValue"] == 1,
        timeout=15,
    )
    failed = entry(body, "rq:failed_jobs", "default")
    assert failed["status"] == "warn"
    assert body["status"] == "warn"
    response = app.test_client().get("/healthz", headers=AUTH)
    assert response.status_code == 200


@pytest.mark.slow
def test_killed_worker_turns_healthz_503_within_the_liveness_ttl(
    redis_url: str, procs: Processes
) -> None:
    app = make_app(redis_url)
    worker = start_worker(procs, redis_url)
    wait_until(lambda: healthz(app)[0], lambda s: s == 200, timeout=15)
    assert entry(healthz(app)[1], "rq:workers", "default")["observedValue"] == 1

    os.kill(worker.pid, signal.SIGKILL)
    killed = time.monotonic()
    _status, body = wait_until(lambda: healthz(app), lambda r: r[0] == 503, timeout=6)
    elapsed = time.monotonic() - killed
    assert elapsed <= 2 + 0.2 + 1.0  # liveness TTL + cache + polling slack
    workers = entry(body, "rq:workers", "default")
    assert (workers["observedValue"], workers["status"]) == (0, "fail")
    assert body["output"] == "not passing: rq:workers"


@pytest.mark.slow
def test_plain_rq_worker_counts_through_rqs_own_heartbeat(redis_url: str, procs: Processes) -> None:
    app = make_app(redis_url)
    procs.start([venv_bin("rq"), "worker", "-u", redis_url, "default"])
    body = wait_until(
        lambda: healthz(app)[1],
        lambda b: entry(b, "rq:workers", "default")["observedValue"] == 1,
        timeout=15,
    )
    assert "rq worker heartbeat" in entry(body, "rq:workers", "default")["output"]
    assert entry(body, "rq:worker_heartbeat_age", "default")["observedValue"] < 10


@pytest.mark.slow
def test_job_running_past_its_timeout_counts_as_stuck(redis_url: str, procs: Processes) -> None:
    checker = HealthChecker([RQQueueCheck(redis_url, "default", timeout_grace=0.5)], ttl=0)
    queue = Queue("default", connection=redis.Redis.from_url(redis_url))
    job = queue.enqueue("tests.health.rqjobs.stubborn", 8, job_timeout=1)
    start_worker(procs, redis_url, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}")
    try:
        _check_stuck(checker)
    finally:
        pid = job.get_meta(refresh=True).get("pid")
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _check_stuck(checker: HealthChecker) -> None:

    def probe() -> dict[str, Any]:
        return checker.run().to_json()

    body = wait_until(
        probe, lambda b: entry(b, "rq:started_jobs", "default")["observedValue"] == 1, 15
    )
    assert entry(body, "rq:stuck_jobs", "default")["observedValue"] == 0
    body = wait_until(
        probe, lambda b: entry(b, "rq:stuck_jobs", "default")["observedValue"] == 1, 5
    )
    stuck = entry(body, "rq:stuck_jobs", "default")
    assert stuck["status"] == "warn"
    assert body["status"] == "warn"  # the worker itself is alive


def test_job_age_skips_head_jobs_whose_ttl_expired(redis_url: str) -> None:
    check = RQQueueCheck(redis_url, "default", age=above(fail=2))
    queue = Queue("default", connection=redis.Redis.from_url(redis_url))
    queue.enqueue("jobs.nap", 0, ttl=2)
    for _ in range(4):
        queue.enqueue("jobs.nap", 0)
    time.sleep(3.5)  # the head job's hash expires; RQ leaves its id in the list

    body = HealthChecker([check], ttl=0).run().to_json()
    assert entry(body, "rq:queue_depth", "default")["observedValue"] == 5
    age = entry(body, "rq:oldest_job_age", "default")
    assert age["observedValue"] >= 3.0
    assert age["status"] == "fail"
    assert "1 expired job skipped" in age["output"]


def test_job_age_is_unknown_but_warns_when_every_scanned_head_job_expired(redis_url: str) -> None:
    check = RQQueueCheck(redis_url, "default", age=above(fail=60))
    check.head_scan = 3
    queue = Queue("default", connection=redis.Redis.from_url(redis_url))
    for _ in range(3):
        queue.enqueue("jobs.nap", 0, ttl=1)
    queue.enqueue("jobs.nap", 0)
    time.sleep(1.5)

    age = entry(HealthChecker([check], ttl=0).run().to_json(), "rq:oldest_job_age", "default")
    assert (age["observedValue"], age["status"]) == (None, "warn")
    assert "first 3 jobs expired" in age["output"]


def test_empty_queue_has_no_age(redis_url: str) -> None:
    check = RQQueueCheck(redis_url, "default", age=above(fail=1))
    age = entry(HealthChecker([check], ttl=0).run().to_json(), "rq:oldest_job_age", "default")
    assert (age["observedValue"], age["status"], age["output"]) == (None, "pass", "queue empty")


@pytest.mark.slow
def test_mixed_fleet_counts_plain_and_tocsin_workers_and_says_which_is_which(
    redis_url: str, procs: Processes
) -> None:
    app = make_app(redis_url)
    tocsin_worker = start_worker(procs, redis_url)
    procs.start([venv_bin("rq"), "worker", "-u", redis_url, "default"])
    body = wait_until(
        lambda: healthz(app)[1],
        lambda b: entry(b, "rq:workers", "default")["observedValue"] == 2,
        timeout=15,
    )
    output = entry(body, "rq:workers", "default")["output"]
    assert output.count("(tocsin heartbeat)") == 1
    assert output.count("(rq worker heartbeat)") == 1

    os.kill(tocsin_worker.pid, signal.SIGKILL)
    _status, body = wait_until(
        lambda: healthz(app),
        lambda r: entry(r[1], "rq:workers", "default")["observedValue"] == 1,
        timeout=6,
    )
    workers = entry(body, "rq:workers", "default")
    assert workers["status"] == "pass"
    assert "(tocsin heartbeat)" not in workers["output"]
    assert "(rq worker heartbeat)" in workers["output"]
    assert _status == 200
