"""RQ measurements beyond depth and workers: suspension, busy and idle workers (real RQ)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import redis
from rq import Queue

from tests.conftest import venv_bin
from tests.health.procs import EXAMPLES, Processes, entry, wait_until
from tocsin.health import NEVER, HealthChecker, below
from tocsin.health.checks.rq import RQQueueCheck


def report(check: RQQueueCheck) -> dict[str, Any]:
    body: dict[str, Any] = HealthChecker([check], ttl=0).run().to_json()
    return body


def rq_cli(*args: str) -> None:
    subprocess.run([venv_bin("rq"), *args], check=True, capture_output=True, timeout=30)


def test_rq_suspend_fails_the_check_and_rq_resume_clears_it(redis_url: str) -> None:
    check = RQQueueCheck(redis_url, "default", workers=NEVER)
    suspended = entry(report(check), "rq:suspended", "default")
    assert (suspended["observedValue"], suspended["status"]) == (False, "pass")

    rq_cli("suspend", "-u", redis_url)
    body = report(check)
    suspended = entry(body, "rq:suspended", "default")
    assert (suspended["observedValue"], suspended["status"]) == (True, "fail")
    assert "rq resume" in suspended["output"]
    assert body["status"] == "fail"

    rq_cli("resume", "-u", redis_url)
    suspended = entry(report(check), "rq:suspended", "default")
    assert (suspended["observedValue"], suspended["status"]) == (False, "pass")


def test_suspension_can_be_reported_as_a_warning(redis_url: str) -> None:
    rq_cli("suspend", "-u", redis_url)
    check = RQQueueCheck(redis_url, "default", workers=NEVER, suspended="warn")
    body = report(check)
    assert entry(body, "rq:suspended", "default")["status"] == "warn"
    assert body["status"] == "warn"


@pytest.mark.slow
def test_busy_and_idle_workers_of_a_mixed_fleet(redis_url: str, procs: Processes) -> None:
    check = RQQueueCheck(redis_url, "default", idle=below(warn=0))
    env = {"REDIS_URL": redis_url, "LIVENESS_INTERVAL": "0.5", "LIVENESS_TTL": "2"}
    procs.start([sys.executable, "worker.py"], cwd=EXAMPLES / "flask_rq", env=env)
    procs.start([venv_bin("rq"), "worker", "-u", redis_url, "default"], cwd=EXAMPLES / "flask_rq")
    # RQ registers a worker before it writes its first state: until then it is live but
    # neither busy nor idle. Wait for both workers to have reported one.
    body = wait_until(
        lambda: report(check),
        lambda b: (
            entry(b, "rq:workers", "default")["observedValue"] == 2
            and sum(
                entry(b, f"rq:{kind}_workers", "default")["observedValue"]
                for kind in ("busy", "idle")
            )
            == 2
        ),
        timeout=20,
    )
    assert entry(body, "rq:busy_workers", "default")["observedValue"] == 0
    assert entry(body, "rq:idle_workers", "default")["observedValue"] == 2

    queue = Queue("default", connection=redis.Redis.from_url(redis_url))
    queue.enqueue("jobs.nap", 30)
    body = wait_until(
        lambda: report(check),
        lambda b: entry(b, "rq:busy_workers", "default")["observedValue"] == 1,
        timeout=15,
    )
    idle = entry(body, "rq:idle_workers", "default")
    assert (idle["observedValue"], idle["status"]) == (1, "pass")

    queue.enqueue("jobs.nap", 30)
    body = wait_until(
        lambda: report(check),
        lambda b: entry(b, "rq:busy_workers", "default")["observedValue"] == 2,
        timeout=15,
    )
    idle = entry(body, "rq:idle_workers", "default")
    assert (idle["observedValue"], idle["status"]) == (0, "warn")  # every worker is busy
    assert "busy: " in entry(body, "rq:busy_workers", "default")["output"]
