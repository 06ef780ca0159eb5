"""The Celery example app's /healthz with real workers on Redis and RabbitMQ brokers."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from celery import Celery
from flask import Flask

from tests.conftest import venv_bin
from tests.health.halfopen import half_open_proxy
from tests.health.procs import AMQP_URL, EXAMPLES, Processes, entry, load_example, wait_until
from tocsin.health import HealthChecker
from tocsin.health.checks.celery import CeleryWorkersCheck


def make_celery(broker_url: str, queue: str) -> Celery:
    module = load_example("flask_celery", "app")
    celery: Celery = module.make_celery(broker_url, queue)
    return celery


def make_app(celery: Celery, **options: Any) -> Flask:
    module = load_example("flask_celery", "app")
    app: Flask = module.create_app(celery, token=None, cache_seconds=0.0, **options)
    return app


def healthz(app: Flask) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/healthz")
    return response.status_code, response.get_json()


def start_worker(
    procs: Processes, broker_url: str, queue: str, name: str | None = None, **env: str
) -> Any:
    """A one-process worker of the example app on ``queue``, named ``<name or queue>@host``."""
    settings = {
        "BROKER_URL": broker_url,
        "CELERY_QUEUE": queue,
        "LIVENESS_INTERVAL": "0.5",
        "LIVENESS_TTL": "2",
        **env,
    }
    args = [venv_bin("celery"), "-A", "celery_app", "worker", "-Q", queue, "-c", "1"]
    args += [
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "INFO",
        "-n",
        f"{name or queue}@%h",
    ]
    return procs.start(args, cwd=EXAMPLES / "flask_celery", env=settings)


def test_redis_depth_counts_every_priority_list_and_age_grows(redis_url: str) -> None:
    celery = make_celery(redis_url, "backlog")
    app = make_app(celery)
    for priority in (None, 0, 3, 5, 9):
        for _ in range(2):
            celery.send_task("example.nap", args=[0], priority=priority)
    status, body = healthz(app)
    assert status == 503  # nobody consumes the queue
    depth = entry(body, "celery:queue_depth", "backlog")
    assert (depth["observedValue"], depth["observedUnit"]) == (10, "tasks")
    age = entry(body, "celery:oldest_task_age", "backlog")["observedValue"]
    assert age is not None
    workers = entry(body, "celery:workers", "backlog")
    assert (workers["observedValue"], workers["status"]) == (0, "fail")
    time.sleep(0.5)
    later = entry(healthz(app)[1], "celery:oldest_task_age", "backlog")["observedValue"]
    assert later >= age + 0.4
    celery.close()


@pytest.mark.slow
def test_redis_broker_worker_alive_then_killed(redis_url: str, procs: Processes) -> None:
    celery = make_celery(redis_url, "emails")
    app = make_app(celery)
    worker = start_worker(procs, redis_url, "emails")
    _, body = wait_until(lambda: healthz(app), lambda r: r[0] == 200, timeout=20)
    assert entry(body, "celery:workers", "emails")["observedValue"] == 1
    # The same worker, counted by a bounded inspect broadcast instead of liveness keys.
    inspected = HealthChecker([CeleryWorkersCheck(celery, "emails", inspect_cache=0)]).run()
    by_inspect = inspected.to_json()
    workers = entry(by_inspect, "celery:workers", "emails")
    assert (workers["observedValue"], workers["status"]) == (1, "pass")
    assert "emails@" in workers["output"]
    assert entry(by_inspect, "celery:active_tasks", "emails")["observedValue"] == 0
    assert entry(by_inspect, "celery:reserved_tasks", "emails")["observedValue"] == 0
    for i in range(3):
        celery.send_task("example.send_welcome_email", args=[f"u{i}@example.com"])
    wait_until(
        lambda: entry(healthz(app)[1], "celery:queue_depth", "emails")["observedValue"],
        lambda depth: depth == 0,
        timeout=10,
    )

    os.kill(worker.pid, signal.SIGKILL)
    killed = time.monotonic()
    _status, body = wait_until(lambda: healthz(app), lambda r: r[0] == 503, timeout=6)
    assert time.monotonic() - killed <= 2 + 1.0
    assert body["output"] == "not passing: celery:workers"
    celery.close()


@pytest.mark.slow
def test_rabbitmq_broker_depth_and_inspect_workers(amqp_queue: str, procs: Processes) -> None:
    celery = make_celery(AMQP_URL, amqp_queue)
    app = make_app(celery, inspect_cache=0.0)
    for i in range(4):
        celery.send_task("example.send_welcome_email", args=[f"u{i}@example.com"])
    # Publishes are not confirmed: RabbitMQ may count the last ones a moment later.
    status, body = wait_until(
        lambda: healthz(app),
        lambda r: entry(r[1], "celery:queue_depth", amqp_queue)["observedValue"] == 4,
        timeout=5,
    )
    assert status == 503
    depth = entry(body, "celery:queue_depth", amqp_queue)
    assert depth["observedValue"] == 4
    assert "consumers=0" in depth["output"]
    assert entry(body, "celery:workers", amqp_queue)["observedValue"] == 0

    worker = start_worker(procs, AMQP_URL, amqp_queue)
    status, body = wait_until(lambda: healthz(app), lambda r: r[0] == 200, timeout=25, step=0.3)
    workers = entry(body, "celery:workers", amqp_queue)
    assert workers["observedValue"] == 1
    assert amqp_queue in workers["output"]
    assert entry(body, "celery:queue_depth", amqp_queue)["observedValue"] == 0

    os.killpg(worker.pid, signal.SIGKILL)
    status, body = wait_until(lambda: healthz(app), lambda r: r[0] == 503, timeout=10, step=0.3)
    assert entry(body, "celery:workers", amqp_queue)["status"] == "fail"
    celery.close()


@pytest.mark.slow
def test_rabbitmq_broker_with_redis_liveness_detects_a_killed_worker_fast(
    amqp_queue: str, redis_url: str, procs: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVENESS_REDIS_URL", redis_url)  # read by the example app
    celery = make_celery(AMQP_URL, amqp_queue)
    app = make_app(celery)
    worker = start_worker(procs, AMQP_URL, amqp_queue, LIVENESS_REDIS_URL=redis_url)
    _, body = wait_until(lambda: healthz(app), lambda r: r[0] == 200, timeout=25, step=0.2)
    workers = entry(body, "celery:workers", amqp_queue)
    assert workers["observedValue"] == 1
    assert "tocsin heartbeat" in workers["output"]

    os.kill(worker.pid, signal.SIGKILL)
    killed = time.monotonic()
    _, body = wait_until(lambda: healthz(app), lambda r: r[0] == 503, timeout=6)
    assert time.monotonic() - killed <= 2 + 1.0
    assert body["output"] == "not passing: celery:workers"
    celery.close()


def inspect_workers(checker: HealthChecker, queue: str) -> dict[str, Any]:
    """The ``celery:workers`` entry of a fresh run."""
    return entry(checker.run().to_json(), "celery:workers", queue)


@pytest.mark.slow
def test_inspect_count_rises_when_a_worker_joins(redis_url: str, procs: Processes) -> None:
    celery = make_celery(redis_url, "joiners")
    check = CeleryWorkersCheck(celery, "joiners", inspect_cache=0, inspect_rescan=2.0)
    checker = HealthChecker([check], ttl=0)
    start_worker(procs, redis_url, "joiners", name="one")
    for _ in range(3):  # settle on one worker
        wait_until(
            lambda: inspect_workers(checker, "joiners")["observedValue"], lambda n: n == 1, 25
        )

    start_worker(procs, redis_url, "joiners", name="two")
    workers = wait_until(
        lambda: inspect_workers(checker, "joiners"), lambda w: w["observedValue"] == 2, 25
    )
    assert workers["status"] == "pass"
    celery.close()


@pytest.mark.slow
def test_inspect_recovers_after_a_half_open_broker_connection(
    redis_url: str, procs: Processes
) -> None:
    parsed = urlsplit(redis_url)
    start_worker(procs, redis_url, "halfopen")
    with half_open_proxy((parsed.hostname or "", parsed.port or 6379)) as proxy:
        celery = make_celery(f"redis://127.0.0.1:{proxy.port}{parsed.path}", "halfopen")
        checker = HealthChecker([CeleryWorkersCheck(celery, "halfopen", inspect_cache=0)], ttl=0)
        wait_until(
            lambda: inspect_workers(checker, "halfopen")["observedValue"], lambda n: n == 1, 25
        )

        proxy.cut()
        down = inspect_workers(checker, "halfopen")
        assert (down["observedValue"], down["status"]) == (None, "fail")
        assert re.search("timed out|timeout", down["output"], re.IGNORECASE)

        proxy.restore()
        workers = wait_until(
            lambda: inspect_workers(checker, "halfopen"),
            lambda w: w["observedValue"] == 1,
            timeout=30,
            step=0.5,
        )
        assert workers["status"] == "pass"
        celery.close()
