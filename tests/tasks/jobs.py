"""Job and task bodies run by the real RQ and Celery workers in the tests."""

from __future__ import annotations

import time

from tocsin.tasks import report_progress


def build_report(steps: int, pause: float = 0.12) -> dict[str, int]:
    """Reports progress step by step, then returns a small summary."""
    for step in range(1, steps + 1):
        time.sleep(pause)
        report_progress(current=step, total=steps, message=f"step {step} of {steps}")
    return {"rows": steps * 10}


def fail_first(times: int) -> str:
    """Fails on its first ``times`` attempts (counted in Redis), then succeeds."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    attempts = int(job.connection.incr(f"test:attempts:{job.id}"))
    report_progress(10, message=f"attempt {attempts}")
    if attempts <= times:
        raise ConnectionError(f"upstream down (attempt {attempts})")
    return "ok"


def always_fail() -> None:
    """Fails every time."""
    raise ValueError("the report template is broken")


def wait_for_cancel(seconds: float) -> None:
    """Reports progress until cancelled (TaskCancelled ends it) or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        report_progress(50, message="working")
        time.sleep(0.1)
