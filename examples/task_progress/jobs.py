"""The example's background job: a "report" that takes a few seconds and reports progress."""

from __future__ import annotations

import time

from rq import get_current_job

from tocsin.tasks import report_progress


def generate_report(
    steps: int = 10, pause: float = 0.3, fail_first: bool = False
) -> dict[str, int]:
    """Work in ``steps`` steps; with ``fail_first`` the first attempt fails halfway."""
    job = get_current_job()
    first_attempt = job is None or int(job.connection.incr(f"example:attempts:{job.id}")) == 1
    for step in range(1, steps + 1):
        time.sleep(pause)
        report_progress(current=step, total=steps, message=f"page {step} of {steps}")
        if fail_first and first_attempt and step == steps // 2:
            raise ConnectionError("the database went away")
    return {"pages": steps}
