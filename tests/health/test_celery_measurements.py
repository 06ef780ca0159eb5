"""Celery measurements beyond depth and workers, against real workers, Redis and RabbitMQ:
messages held unacked by a dead worker, failed tasks in a window, RabbitMQ head age."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery

from tests.conftest import free_port, venv_bin
from tests.health.celery_measure_app import EXPLODE, HOLD, QUICK, make_app
from tests.health.procs import AMQP_URL, ROOT, Processes, entry, wait_until
from tocsin.health import HealthChecker, above
from tocsin.health.checks.celery import CeleryQueueCheck
from tocsin.workers.celery_failures import FailureCounter

MANAGEMENT_URL = "http://127.0.0.1:15672"


def report(check: CeleryQueueCheck) -> dict[str, Any]:
    body: dict[str, Any] = HealthChecker([check], ttl=0).run().to_json()
    return body


def value(check: CeleryQueueCheck, key: str) -> Any:
    return entry(report(check), key, check.queue)["observedValue"]


def start_worker(procs: Processes, broker_url: str, queue: str, **env: str) -> Any:
    """A one-process worker of the measurement app on ``queue``."""
    args = [venv_bin("celery"), "-A", "tests.health.celery_measure_app", "worker", "-Q", queue]
    args += ["-c", "1", "--without-mingle", "--without-gossip", "-n", f"{queue}@%h"]
    settings = {"BROKER_URL": broker_url, "CELERY_QUEUE": queue, **env}
    settings["PYTHONPATH"] = f"{ROOT / 'src'}:{ROOT}"
    return procs.start(args, env=settings)


@pytest.fixture
def apps() -> Iterator[list[Celery]]:
    """Celery apps made by the test, closed at the end."""
    made: list[Celery] = []
    yield made
    for app in made:
        app.close()


@pytest.mark.slow
def test_message_held_by_a_killed_worker_is_counted_unacked_with_its_age(
    redis_url: str, procs: Processes, apps: list[Celery]
) -> None:
    app = make_app(redis_url, "holds")
    apps.append(app)
    check = CeleryQueueCheck(app, "holds", unacked_age=above(warn=1))
    unacked = entry(report(check), "celery:unacked", "holds")
    assert (unacked["observedValue"], unacked["status"]) == (0, "pass")

    worker = start_worker(procs, redis_url, "holds")
    app.send_task(HOLD, args=[60])
    wait_until(lambda: value(check, "celery:unacked"), lambda n: n == 1, timeout=25)
    os.killpg(worker.pid, signal.SIGKILL)  # mid-task: acks_late, so the message stays unacked
    worker.wait(timeout=10)

    first = report(check)
    assert entry(first, "celery:queue_depth", "holds")["observedValue"] == 0
    assert entry(first, "celery:unacked", "holds")["observedValue"] == 1
    time.sleep(1.2)
    body = report(check)
    unacked = entry(body, "celery:unacked", "holds")
    assert unacked["observedValue"] == 1
    assert "visibility_timeout 3600 s" in unacked["output"]
    # kombu keeps one unacked hash for every queue: another queue's check does not count it.
    assert value(CeleryQueueCheck(app, "other"), "celery:unacked") == 0
    age = entry(body, "celery:unacked_age", "holds")
    assert age["observedValue"] >= entry(first, "celery:unacked_age", "holds")["observedValue"] + 1
    assert age["status"] == "warn"


@pytest.mark.slow
def test_failed_tasks_are_counted_per_task_by_the_failure_hook(
    redis_url: str, procs: Processes, apps: list[Celery]
) -> None:
    app = make_app(redis_url, "flaky")
    apps.append(app)
    check = CeleryQueueCheck(app, "flaky", failures=redis_url, failed=above(warn=1, fail=3))
    failed = entry(report(check), "celery:failed_tasks", "flaky")
    assert (failed["observedValue"], failed["status"]) == (0, "pass")

    start_worker(procs, redis_url, "flaky", FAILURES_REDIS_URL=redis_url)
    app.send_task(EXPLODE, args=["boom"])
    app.send_task(QUICK)
    app.send_task(EXPLODE, args=["bang"])
    body = wait_until(
        lambda: report(check),
        lambda b: entry(b, "celery:failed_tasks", "flaky")["observedValue"] == 2,
        timeout=25,
    )
    failed = entry(body, "celery:failed_tasks", "flaky")
    assert failed["status"] == "warn"
    assert f"{EXPLODE}: 2" in failed["output"]
    assert "last 3600 s" in failed["output"]

    app.send_task(EXPLODE, args=["again"])
    failed = wait_until(
        lambda: entry(report(check), "celery:failed_tasks", "flaky"),
        lambda f: f["observedValue"] == 3,
        timeout=15,
    )
    assert failed["status"] == "fail"


def test_failures_outside_the_window_are_not_counted_and_keys_expire(redis_url: str) -> None:
    app = Celery("window", broker=redis_url, set_as_current=False)
    counter = FailureCounter(redis_url, window=3600)
    now = time.time()
    counter.record("reports", "tasks.render", now=now - 7200)  # two hours ago
    counter.record("reports", "tasks.render", now=now - 1800)
    counter.record("reports", "tasks.mail", now=now)
    check = CeleryQueueCheck(app, "reports", failures=redis_url, failed_window=3600)
    failed = entry(report(check), "celery:failed_tasks", "reports")
    assert failed["observedValue"] == 2
    assert "tasks.mail: 1" in failed["output"] and "tasks.render: 1" in failed["output"]

    narrow = CeleryQueueCheck(app, "reports", failures=redis_url, failed_window=600)
    assert value(narrow, "celery:failed_tasks") == 1

    client = redis.Redis.from_url(redis_url)
    ttls = [client.ttl(key) for key in client.scan_iter("tocsin:celery:failures:*")]
    assert ttls and all(0 < ttl <= 3600 + 60 for ttl in ttls)
    app.close()


def management_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 15672), timeout=1):
            return True
    except OSError:
        return False


needs_management = pytest.mark.skipif(
    not management_answers(),
    reason="RabbitMQ management plugin not answering on 127.0.0.1:15672 "
    "(scripts/ensure-services.sh enables it)",
)


@needs_management
@pytest.mark.slow
def test_rabbitmq_oldest_task_age_from_the_management_api(
    amqp_queue: str, apps: list[Celery]
) -> None:
    app = make_app(AMQP_URL, amqp_queue)
    apps.append(app)
    check = CeleryQueueCheck(app, amqp_queue, management_url=MANAGEMENT_URL, age=above(warn=2))
    app.send_task(HOLD, args=[0])
    app.send_task(HOLD, args=[0])
    # The management API refreshes queue statistics every 5 s (collect_statistics_interval).
    body = wait_until(
        lambda: report(check),
        lambda b: entry(b, "celery:oldest_task_age", amqp_queue)["observedValue"] is not None,
        timeout=15,
        step=0.5,
    )
    assert entry(body, "celery:queue_depth", amqp_queue)["observedValue"] == 2
    assert entry(body, "celery:unacked", amqp_queue)["observedValue"] == 0
    age = wait_until(
        lambda: entry(report(check), "celery:oldest_task_age", amqp_queue),
        lambda a: a["observedValue"] >= 2,
        timeout=10,
        step=0.5,
    )
    assert age["status"] == "warn"


def test_unreachable_management_api_warns_on_age_and_still_reads_depth(
    amqp_queue: str, apps: list[Celery]
) -> None:
    app = make_app(AMQP_URL, amqp_queue)
    apps.append(app)
    app.send_task(QUICK)
    url = f"http://127.0.0.1:{free_port()}"
    body = report(CeleryQueueCheck(app, amqp_queue, management_url=url))
    assert entry(body, "celery:queue_depth", amqp_queue)["observedValue"] == 1
    age = entry(body, "celery:oldest_task_age", amqp_queue)
    assert (age["observedValue"], age["status"]) == (None, "warn")
    assert "management API" in age["output"]
