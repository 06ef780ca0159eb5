"""Celery tasks run by a real prefork worker: signals fire in the pool child processes."""

from __future__ import annotations

import gc
import subprocess
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.conftest import venv_bin
from tests.tasks.celery_app import make_app
from tests.tasks.helpers import ROOT, stop
from tests.tasks.test_rq import wait_until_done
from tocsin.tasks.celery import CeleryTracker, send_tracked
from tocsin.tasks.redis_store import RedisTaskStore

pytestmark = pytest.mark.slow


@pytest.fixture
def celery_app(redis_url: str) -> Iterator[tuple[object, CeleryTracker]]:
    app, tracker = make_app(redis_url)
    yield app, tracker
    tracker.uninstall()
    # Celery's AsyncResult.__del__ unsubscribes through the backend, opening a new Redis
    # connection nobody closes; the garbage collector then finds that socket in a later
    # test, where the unclosed-socket warning fails it. Make that a no-op for this app,
    # collect the test's results, then close what the test itself opened.
    backend = app.backend
    backend.remove_pending_result = lambda result: result
    gc.collect()
    consumer = getattr(backend, "result_consumer", None)
    if consumer is not None:
        consumer.stop()
    backend.client.connection_pool.disconnect()
    app.close()


@pytest.fixture
def worker(redis_url: str) -> Iterator[None]:
    proc = subprocess.Popen(
        [
            venv_bin("celery"),
            "-A",
            "tests.tasks.celery_app",
            "worker",
            "-P",
            "prefork",
            "-c",
            "2",
            "-Q",
            "tocsin-tests",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env={"TOCSIN_TEST_CELERY_REDIS": redis_url, "PATH": "/usr/bin:/bin"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        stop(proc)


def test_progress_retry_and_failure(
    celery_app: tuple[object, CeleryTracker], worker: None, redis_url: str
) -> None:
    app, _tracker = celery_app
    store = RedisTaskStore.from_url(redis_url)
    tasks = app.tasks  # type: ignore[attr-defined]
    report = send_tracked(tasks["tests.build_report"], 3, owner="alice")
    flaky = send_tracked(tasks["tests.flaky"], 1)
    broken = send_tracked(tasks["tests.broken"])
    untracked = tasks["tests.build_report"].apply_async(args=(1,))

    record = store.get(report.id)
    assert record is not None
    assert record.owner == "alice"
    assert len(report.id) == 32

    events = wait_until_done(store, report.id)
    assert [e.record.state for e in events] == [
        "queued",
        "started",
        "progress",
        "progress",
        "progress",
        "succeeded",
    ]
    assert events[-1].record.result == {"rows": 30}

    events = wait_until_done(store, flaky.id)
    assert [e.record.state for e in events] == [
        "queued",
        "started",
        "retrying",
        "started",
        "succeeded",
    ]
    retrying = events[2].record
    assert retrying.attempt == 1
    assert retrying.error is not None
    assert retrying.error.type == "ConnectionError"
    assert retrying.next_retry_at is not None
    delay = (retrying.next_retry_at - retrying.updated_at).total_seconds()
    assert 0.5 < delay < 1.5
    assert events[3].record.attempt == 2
    # The worker held the message until its eta (we compute ours a few ms after Celery).
    assert events[3].record.updated_at >= retrying.next_retry_at - timedelta(milliseconds=100)

    events = wait_until_done(store, broken.id)
    assert [e.record.state for e in events] == ["queued", "started", "failed"]
    error = events[-1].record.error
    assert error is not None
    assert error.type == "ValueError"
    assert error.traceback is not None
    assert "the report template is broken" in error.traceback

    untracked.get(timeout=10)
    assert store.get(untracked.id) is None
    store.close()
