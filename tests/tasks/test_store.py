"""The same store tests on Redis, SQLite and PostgreSQL (parametrized ``make_store``)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.tasks.conftest import StoreFactory
from tocsin.tasks import Change, Progress, TaskError, TaskState, TaskStore


def test_create_is_queued_with_unguessable_id(store: TaskStore) -> None:
    record = store.create("report", owner="alice")
    assert record.state is TaskState.QUEUED
    assert len(record.id) == 32
    assert int(record.id, 16) >= 0
    assert record.created_at.tzinfo is not None
    again = store.get(record.id)
    assert again == record
    assert store.create("report").id != record.id


def test_create_with_existing_id_keeps_the_record(store: TaskStore) -> None:
    record = store.create("report", task_id="a" * 32)
    store.update(record.id, Change(TaskState.STARTED))
    again = store.create("other", task_id="a" * 32)
    assert again.state is TaskState.STARTED
    assert again.name == "report"


def test_full_life_with_progress_and_events(store: TaskStore) -> None:
    record = store.create("report")
    store.update(record.id, Change(TaskState.STARTED))
    store.update(record.id, Change(TaskState.PROGRESS, progress=Progress(current=2, total=5)))
    store.update(record.id, Change(TaskState.PROGRESS, progress=Progress(80, message="almost")))
    done = store.update(record.id, Change(TaskState.SUCCEEDED, result={"rows": 3}))
    assert done is not None
    assert done.state is TaskState.SUCCEEDED
    assert done.result == {"rows": 3}
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.version == 5
    events = store.events_after(record.id, None)
    assert [e.record.state for e in events] == [
        TaskState.QUEUED,
        TaskState.STARTED,
        TaskState.PROGRESS,
        TaskState.PROGRESS,
        TaskState.SUCCEEDED,
    ]
    assert events[2].record.progress is not None
    assert events[2].record.progress.resolved_percent == 40.0
    ids = [e.id for e in events]
    assert len(set(ids)) == len(ids)
    assert store.events_after(record.id, ids[2]) == events[3:]
    latest = store.latest_event(record.id)
    assert latest is not None
    assert latest.id == ids[-1]


def test_late_started_never_overwrites_succeeded(store: TaskStore) -> None:
    record = store.create("report")
    store.update(record.id, Change(TaskState.STARTED))
    store.update(record.id, Change(TaskState.SUCCEEDED))
    assert store.update(record.id, Change(TaskState.STARTED)) is None
    assert store.update(record.id, Change(TaskState.PROGRESS, progress=Progress(10))) is None
    assert store.update(record.id, Change(TaskState.FAILED)) is None
    current = store.get(record.id)
    assert current is not None
    assert current.state is TaskState.SUCCEEDED
    assert len(store.events_after(record.id, None)) == 3


def test_retry_cycle_counts_attempts(store: TaskStore) -> None:
    record = store.create("report")
    at = datetime.now(UTC) + timedelta(seconds=30)
    store.update(record.id, Change(TaskState.STARTED))
    retrying = store.update(
        record.id,
        Change(
            TaskState.RETRYING, error=TaskError("OSError", "down", "Traceback..."), next_retry_at=at
        ),
    )
    assert retrying is not None
    assert retrying.next_retry_at == at
    assert retrying.error is not None
    # A late progress report of attempt 1 loses against retrying.
    assert store.update(record.id, Change(TaskState.PROGRESS, attempt=1)) is None
    second = store.update(record.id, Change(TaskState.STARTED))
    assert second is not None
    assert second.attempt == 2
    assert second.next_retry_at is None
    assert second.error is None
    failed = store.update(record.id, Change(TaskState.FAILED, error=TaskError("OSError", "still")))
    assert failed is not None
    assert failed.attempt == 2
    public = failed.public_dict()
    assert public["error"] == {"type": "OSError", "message": "still"}
    assert "owner" not in public


def test_cancel_wins_and_requeue_reopens(store: TaskStore) -> None:
    record = store.create("report")
    store.update(record.id, Change(TaskState.PROGRESS, progress=Progress(50)))
    cancelled = store.update(record.id, Change(TaskState.CANCELLED))
    assert cancelled is not None
    assert cancelled.state is TaskState.CANCELLED
    assert store.update(record.id, Change(TaskState.SUCCEEDED)) is None
    reopened = store.update(record.id, Change(TaskState.QUEUED, requeue=True))
    assert reopened is not None
    assert reopened.state is TaskState.QUEUED
    assert reopened.attempt == 2
    assert reopened.finished_at is None


def test_unknown_task(store: TaskStore) -> None:
    assert store.get("0" * 32) is None
    assert store.update("0" * 32, Change(TaskState.STARTED)) is None
    assert store.events_after("0" * 32, None) == []
    assert store.latest_event("0" * 32) is None


def test_concurrent_writers_keep_order(make_store: StoreFactory) -> None:
    """Many threads with their own store objects race; the log stays consistent."""
    first = make_store()
    record = first.create("report")
    stores = [make_store() for _ in range(4)]

    def work(store: TaskStore, n: int) -> None:
        for i in range(10):
            store.update(record.id, Change(TaskState.PROGRESS, progress=Progress(n * 10 + i)))
        store.update(record.id, Change(TaskState.SUCCEEDED))
        store.update(record.id, Change(TaskState.STARTED))

    threads = [threading.Thread(target=work, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = first.get(record.id)
    assert final is not None
    assert final.state is TaskState.SUCCEEDED
    events = first.events_after(record.id, None, limit=1000)
    versions = [e.record.version for e in events]
    assert versions == list(range(1, len(events) + 1))
    assert events[-1].record.state is TaskState.SUCCEEDED
    assert final.version == versions[-1]


def test_wait_events_blocks_until_a_change(store: TaskStore) -> None:
    record = store.create("report")
    latest = store.latest_event(record.id)
    assert latest is not None
    timer = threading.Timer(0.3, store.update, args=(record.id, Change(TaskState.STARTED)))
    timer.start()
    began = time.monotonic()
    events = store.wait_events(record.id, latest.id, timeout=5)
    assert [e.record.state for e in events] == [TaskState.STARTED]
    assert 0.2 < time.monotonic() - began < 3
    assert store.wait_events(record.id, events[-1].id, timeout=0.2) == []


@pytest.mark.slow
def test_finished_task_expires_after_ttl(make_store: StoreFactory) -> None:
    store = make_store(ttl=timedelta(seconds=1))
    record = store.create("report")
    running = store.create("other")
    store.update(record.id, Change(TaskState.SUCCEEDED))
    assert store.get(record.id) is not None
    time.sleep(1.3)
    assert store.get(record.id) is None
    assert store.events_after(record.id, None) == []
    assert store.latest_event(record.id) is None
    assert store.get(running.id) is not None  # unfinished tasks use pending_ttl


def test_expired_rows_are_removed(make_store: StoreFactory) -> None:
    """SQL deletes expired rows in ``purge_expired``; Redis gives both keys a TTL."""
    store = make_store(ttl=timedelta(seconds=0))
    record = store.create("report")
    store.update(record.id, Change(TaskState.FAILED))
    purge = getattr(store, "purge_expired", None)
    if purge is not None:
        assert purge() == 1
    else:
        client = store.client  # type: ignore[attr-defined]
        assert client.exists(f"tocsin:task:{record.id}", f"tocsin:task:{record.id}:events") == 0
    assert store.get(record.id) is None
