"""Jobs for the RQ tests (imported by the worker subprocess)."""

from __future__ import annotations

import os
import signal
import time

from rq import get_current_job


def stubborn(seconds: float) -> None:
    """A job stuck where RQ's timeout cannot interrupt it (it ignores SIGALRM).

    It records its pid in the job's meta: RQ's work horse leaves the worker's process
    group, so the test kills it by pid.
    """
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    job = get_current_job()
    if job is not None:
        job.meta["pid"] = os.getpid()
        job.save_meta()
    time.sleep(seconds)
