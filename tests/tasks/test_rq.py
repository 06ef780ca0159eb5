"""RQ jobs run by a real ``rq worker --with-scheduler -w tocsin.tasks.rq.TrackingWorker``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis import Redis
from rq import Queue, Retry
from rq.job import Job

from tests.conftest import venv_bin
from tests.tasks.helpers import ROOT, serve
from tests.tasks.jobs import always_fail, build_report, fail_first, wait_for_cancel
from tocsin.tasks import Change, TaskEvent, TaskState, TaskStore
from tocsin.tasks.redis_store import RedisTaskStore
from tocsin.tasks.rq import cancel_hook, enqueue

pytestmark = pytest.mark.slow


@pytest.fixture
def connection(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def worker(redis_url: str) -> Iterator[None]:
    import subprocess

    from tests.tasks.helpers import stop

    proc = subprocess.Popen(
        [
            venv_bin("rq"),
            "worker",
            "--with-scheduler",
            "-w",
            "tocsin.tasks.rq.TrackingWorker",
            "-u",
            redis_url,
            "-P",
            str(ROOT),
            "-q",
            "default",
        ],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    try:
        yield
    finally:
        stop(proc)


def wait_until_done(store: TaskStore, task_id: str, timeout: float = 20) -> list[TaskEvent]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = store.events_after(task_id, None, limit=1000)
        if events and events[-1].record.state.terminal:
            return events
        store.wait_events(task_id, events[-1].id if events else None, timeout=0.5)
    raise AssertionError(f"task {task_id} did not finish: {store.get(task_id)}")


def test_progress_and_success(connection: Redis, worker: None) -> None:
    store = RedisTaskStore(connection)
    job = enqueue(Queue(connection=connection), build_report, 3, owner="alice")
    queued = store.get(job.id)
    assert queued is not None
    assert queued.state is TaskState.QUEUED
    assert queued.owner == "alice"
    assert queued.name == "tests.tasks.jobs.build_report"
    events = wait_until_done(store, job.id)
    states = [e.record.state for e in events]
    assert states == ["queued", "started", "progress", "progress", "progress", "succeeded"]
    percents = [e.record.progress.resolved_percent for e in events[2:5] if e.record.progress]
    assert [round(p) for p in percents] == [33, 67, 100]
    assert events[-1].record.result == {"rows": 30}


def test_retry_with_interval_shows_retrying(connection: Redis, worker: None) -> None:
    store = RedisTaskStore(connection)
    job = enqueue(Queue(connection=connection), fail_first, 1, retry=Retry(max=2, interval=1))
    events = wait_until_done(store, job.id)
    states = [e.record.state for e in events]
    assert states == [
        "queued",
        "started",
        "progress",
        "retrying",
        "started",
        "progress",
        "succeeded",
    ]
    retrying = events[3].record
    assert retrying.attempt == 1
    assert retrying.error is not None
    assert retrying.error.type == "ConnectionError"
    assert retrying.next_retry_at is not None
    delay = (retrying.next_retry_at - retrying.updated_at).total_seconds()
    assert 0.5 < delay < 1.5
    assert events[4].record.attempt == 2
    # RQ's scheduler (not an immediate requeue) started the second attempt; it keeps whole
    # seconds, so allow it to run up to a second early.
    assert events[4].record.updated_at > retrying.next_retry_at - timedelta(seconds=1)
    assert events[-1].record.attempt == 2


def test_final_failure_after_retries(connection: Redis, worker: None) -> None:
    store = RedisTaskStore(connection)
    job = enqueue(Queue(connection=connection), always_fail, retry=Retry(max=1))
    events = wait_until_done(store, job.id)
    assert [e.record.state for e in events] == [
        "queued",
        "started",
        "retrying",
        "started",
        "failed",
    ]
    failed = events[-1].record
    assert failed.error is not None
    assert failed.error.type == "ValueError"
    assert failed.error.traceback is not None
    assert "always_fail" in failed.error.traceback
    assert "traceback" not in failed.public_dict()["error"]
    assert failed.finished_at is not None
    assert failed.finished_at <= datetime.now(UTC)


def test_cancel_stops_the_job(connection: Redis, worker: None) -> None:
    store = RedisTaskStore(connection)
    job = enqueue(Queue(connection=connection), wait_for_cancel, 20)
    deadline = time.monotonic() + 15
    while (record := store.get(job.id)) is not None and record.state is not TaskState.PROGRESS:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled = store.update(job.id, Change(TaskState.CANCELLED))
    assert cancelled is not None
    cancel_hook(connection)(cancelled)
    events = wait_until_done(store, job.id)
    assert events[-1].record.state is TaskState.CANCELLED
    time.sleep(0.3)  # a late success from the worker must not overwrite it
    final = store.get(job.id)
    assert final is not None
    assert final.state is TaskState.CANCELLED


def test_retry_and_cancel_endpoints_drive_rq(
    connection: Redis, worker: None, redis_url: str
) -> None:
    """POST /retry requeues the failed RQ job under the same id; POST /cancel stops one."""
    store = RedisTaskStore(connection)
    queue = Queue(connection=connection)
    job = enqueue(queue, fail_first, 1, owner="alice")
    assert wait_until_done(store, job.id)[-1].record.state is TaskState.FAILED
    with serve("flask", redis_url, rq_hooks=True) as base:
        headers = {"X-User": "alice"}
        response = httpx.post(f"{base}/tasks/{job.id}/retry", headers=headers)
        assert response.status_code == 202
        assert response.json()["state"] == "queued"
        assert response.json()["attempt"] == 2
        events = wait_until_done(store, job.id)
        assert [e.record.state for e in events][-4:] == [
            "queued",
            "started",
            "progress",
            "succeeded",
        ]
        assert events[-1].record.attempt == 2

        # No RQ job behind this record: the hook fails, the record goes back to failed.
        orphan = store.create("report", owner="alice")
        store.update(orphan.id, Change(TaskState.FAILED))
        response = httpx.post(f"{base}/tasks/{orphan.id}/retry", headers=headers)
        assert response.status_code == 503
        again = store.get(orphan.id)
        assert again is not None
        assert again.state is TaskState.FAILED
        assert again.error is not None
        assert again.error.type == "NoSuchJobError"

        long_job = enqueue(queue, wait_for_cancel, 20, owner="alice")
        deadline = time.monotonic() + 15
        while (record := store.get(long_job.id)) and record.state is not TaskState.PROGRESS:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        response = httpx.post(f"{base}/tasks/{long_job.id}/cancel", headers=headers)
        assert response.status_code == 202
        assert wait_until_done(store, long_job.id)[-1].record.state is TaskState.CANCELLED
        # The RQ job stopped too (stop command or TaskCancelled at its next report).
        rq_job = Job.fetch(long_job.id, connection=connection)
        deadline = time.monotonic() + 10
        while rq_job.get_status(refresh=True) in ("started", "queued"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
