"""Reporting from inside a task: ``track()`` for threads and scripts, ``report_progress()``.

``report_progress()`` finds the running task through the tracker that ``track()`` and the
RQ/Celery trackers make current (``tocsin.tasks.tracker``), so task code does not depend on
the queue it runs on.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tocsin.tasks.store import TaskStore, get_default_store
from tocsin.tasks.tracker import TaskCancelled, Tracker, activate, active_tracker

logger = logging.getLogger(__name__)


def current_tracker() -> Tracker | None:
    """The tracker of the task running here: set by ``track()``, RQ or Celery trackers."""
    tracker = active_tracker()
    if tracker is None and "rq" in sys.modules:
        # A job run by a plain ``rq worker`` has no tracker set: ask RQ for the current job.
        # Imported here because the RQ integration is optional (it needs redis and rq).
        from tocsin.tasks.rq import tracker_for_current_job

        tracker = tracker_for_current_job()
    return tracker


def report_progress(
    percent: float | None = None,
    *,
    current: int | None = None,
    total: int | None = None,
    message: str | None = None,
) -> None:
    """Report progress of the task running here (RQ job, Celery task or ``track()`` block).

    Does nothing outside a tracked task. Raises ``TaskCancelled`` if the task was cancelled.
    """
    tracker = current_tracker()
    if tracker is None:
        logger.debug("report_progress outside a tracked task")
        return
    tracker.progress(percent, current=current, total=total, message=message)


@contextmanager
def track(
    task_id: str,
    *,
    store: TaskStore | None = None,
    name: str = "task",
    owner: str | None = None,
) -> Iterator[Tracker]:
    """Track the work in the block as task ``task_id`` (created if the store lacks it).

    ``started`` on entry; ``succeeded`` (with ``tracker.result``) on normal exit; ``failed``
    on an exception, which is re-raised. ``TaskCancelled`` ends the block quietly.
    """
    store = store or get_default_store()
    tracker = Tracker(store, task_id)
    try:
        if store.get(task_id) is None:
            store.create(name, task_id=task_id, owner=owner)
    except Exception as exc:  # the store is down: do the work anyway, unreported
        logger.warning("task status create failed task_id=%s error=%s", task_id, exc)
    tracker.started()
    with activate(tracker):
        try:
            yield tracker
        except TaskCancelled:
            logger.info("task cancelled task_id=%s", task_id)
            return
        except BaseException as exc:
            tracker.failed(exc)
            raise
    tracker.succeeded()
