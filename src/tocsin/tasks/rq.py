"""RQ tracker: enqueue with a status record, then RQ's callbacks and worker hook report.

    job = enqueue(queue, build_report, 42, owner=user_id, retry=Retry(max=2, interval=30))
    # worker:  rq worker --with-scheduler -w tocsin.tasks.rq.TrackingWorker

- ``enqueue`` creates the ``queued`` record (the RQ job id is the task id) and attaches
  ``on_success`` / ``on_failure`` callbacks;
- ``TrackingWorker`` (or ``TrackingMixin`` on your own worker class) records ``started`` for
  every attempt. Without it the first ``report_progress()`` marks the task running;
- a failure with retries left is recorded as ``retrying`` with the next attempt time. RQ
  retries with an interval only run on a worker started with ``--with-scheduler``;
- ``report_progress()`` inside a job finds the job through ``rq.get_current_job()``.

``enqueue_group(queue, [Queue.prepare_data(f, args), ...])`` stores one group record and
its members' records, then enqueues the jobs with ``enqueue_many``; the group follows its
members (``tocsin.tasks.groups``).

The store is the default one (``set_default_store``) or else a ``RedisTaskStore`` on the
job's own Redis connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any

from redis import Redis
from rq import Callback, Queue, Worker, get_current_job
from rq.job import Job
from rq.queue import EnqueueData

from tocsin.tasks.groups import TrackedGroup, cancelled_ids, create_group
from tocsin.tasks.records import TaskRecord, new_task_id, utcnow
from tocsin.tasks.redis_store import RedisTaskStore
from tocsin.tasks.store import TaskStore, default_store_or_none
from tocsin.tasks.tracker import Tracker

logger = logging.getLogger(__name__)


def store_for(connection: Redis) -> TaskStore:
    """The default store, or a Redis store on ``connection``."""
    return default_store_or_none() or RedisTaskStore(connection)


def enqueue(
    queue: Queue,
    func: Callable[..., Any] | str,
    *args: Any,
    owner: str | None = None,
    name: str | None = None,
    store: TaskStore | None = None,
    **kwargs: Any,
) -> Job:
    """``queue.enqueue(func, *args, **kwargs)`` plus a ``queued`` status record.

    ``kwargs`` are RQ's (``retry=``, ``job_timeout=``, ...) and the function's. The job id
    is a fresh 128-bit random id unless ``job_id=`` is given.
    """
    job_id = kwargs.pop("job_id", None) or new_task_id()
    task_name = name or _function_name(func)
    (store or store_for(queue.connection)).create(task_name, task_id=job_id, owner=owner)
    target: Any = func
    return queue.enqueue(
        target,
        *args,
        job_id=job_id,
        on_success=Callback(on_job_success),
        on_failure=Callback(on_job_failure),
        **kwargs,
    )


def enqueue_group(
    queue: Queue,
    calls: list[EnqueueData],
    *,
    name: str = "group",
    owner: str | None = None,
    store: TaskStore | None = None,
) -> TrackedGroup[list[Job]]:
    """Enqueue ``calls`` (made with ``Queue.prepare_data``) as one tracked task group.

    Each job gets a fresh 128-bit id unless its ``job_id`` is set, and tocsin's
    ``on_success`` / ``on_failure`` callbacks. The group record and the members' records
    are stored before the jobs are enqueued. Returns the group's id and RQ's jobs.
    """
    prepared = [
        call._replace(
            job_id=call.job_id or new_task_id(),
            on_success=Callback(on_job_success),
            on_failure=Callback(on_job_failure),
        )
        for call in calls
    ]
    members = [(call.job_id, _function_name(call.func)) for call in prepared]
    group = create_group(store or store_for(queue.connection), name, members, owner=owner)
    return TrackedGroup(group.id, queue.enqueue_many(prepared))


def _function_name(func: Any) -> str:
    return func if isinstance(func, str) else f"{func.__module__}.{func.__name__}"


def on_job_success(job: Job, connection: Redis, result: Any, *args: Any, **kwargs: Any) -> None:
    """RQ success callback: ``succeeded`` with a small JSON summary of the return value."""
    Tracker(store_for(connection), job.id).succeeded(result)


def on_job_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
    *args: Any,
    **kwargs: Any,
) -> None:
    """RQ failure callback: ``retrying`` (with the next attempt time) or ``failed``.

    It runs before RQ decides, so it asks the job the same question RQ will ask.
    """
    tracker = Tracker(store_for(connection), job.id)
    error = exc if exc is not None else RuntimeError("job failed")
    if job.should_retry:
        delay = job.get_retry_interval()
        tracker.retrying(error, utcnow() + timedelta(seconds=delay))
    else:
        tracker.failed(error)


def tracker_for_current_job() -> Tracker | None:
    """A tracker for the RQ job running in this process, if any."""
    job = get_current_job()
    if job is None:
        return None
    return Tracker(store_for(job.connection), job.id)


class TrackingMixin:
    """Worker mixin recording ``started`` when a job attempt begins (in the work horse)."""

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """RQ's bookkeeping, then the ``started`` record."""
        super().prepare_job_execution(job, remove_from_intermediate_queue)  # type: ignore[misc]
        Tracker(store_for(job.connection), job.id).started()


class TrackingWorker(TrackingMixin, Worker):
    """RQ's forking ``Worker`` that reports ``started`` (``rq worker -w`` this class)."""


def cancel_hook(connection: Redis) -> Callable[[TaskRecord], None]:
    """An ``on_cancel`` hook for the HTTP endpoints: stop a running job, cancel a queued one
    (every unfinished member's job, for a group)."""
    from rq.command import send_stop_job_command
    from rq.exceptions import NoSuchJobError
    from rq.job import JobStatus

    def cancel(record: TaskRecord) -> None:
        for job_id in cancelled_ids(record):
            try:
                job = Job.fetch(job_id, connection=connection)
            except NoSuchJobError:
                continue
            if job.get_status() == JobStatus.STARTED:
                send_stop_job_command(connection, job.id)
            elif not job.is_canceled:
                job.cancel()

    return cancel


def retry_hook(connection: Redis) -> Callable[[TaskRecord], None]:
    """An ``on_retry`` hook for the HTTP endpoints: requeue the failed or cancelled RQ job."""

    def retry(record: TaskRecord) -> None:
        Job.fetch(record.id, connection=connection).requeue()

    return retry
