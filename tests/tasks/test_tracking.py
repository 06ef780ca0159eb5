"""``track()`` and ``report_progress()`` in threads, and the ordering rules as properties."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tasks.conftest import StoreFactory
from tocsin.errors import ConfigError
from tocsin.tasks import (
    Change,
    Progress,
    TaskCancelled,
    TaskState,
    TaskStore,
    apply_change,
    new_task_id,
    report_progress,
    set_default_store,
    track,
)
from tocsin.tasks.records import new_record


def test_track_in_a_thread(store: TaskStore) -> None:
    task_id = new_task_id()

    def work() -> None:
        with track(task_id, store=store, name="export", owner="alice") as tracker:
            for step in range(1, 5):
                report_progress(current=step, total=4)
            tracker.result = {"files": 4}

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    events = store.events_after(task_id, None)
    # A tight loop: reports within min_interval are dropped, except the last step.
    assert [e.record.state for e in events] == [
        "queued",
        "started",
        "progress",
        "progress",
        "succeeded",
    ]
    percents = [e.record.progress.resolved_percent for e in events if e.record.progress]
    assert percents[:2] == [25.0, 100.0]
    final = events[-1].record
    assert final.result == {"files": 4}
    assert final.owner == "alice"
    assert final.progress is not None
    assert final.progress.resolved_percent == 100.0


def test_every_report_is_sent_without_throttling(store: TaskStore) -> None:
    task_id = store.create("export").id
    with track(task_id, store=store) as tracker:
        tracker.min_interval = 0
        for step in range(1, 6):
            assert tracker.progress(current=step, total=10) is not None
    states = [e.record.state for e in store.events_after(task_id, None)]
    assert states.count(TaskState.PROGRESS) == 5


def test_track_records_failure_and_reraises(store: TaskStore) -> None:
    task_id = store.create("export").id
    with pytest.raises(KeyError), track(task_id, store=store):
        raise KeyError("missing column")
    record = store.get(task_id)
    assert record is not None
    assert record.state is TaskState.FAILED
    assert record.error is not None
    assert record.error.type == "KeyError"
    assert record.error.traceback is not None
    assert "missing column" in record.error.traceback


def test_cancelled_task_stops_at_next_progress(store: TaskStore) -> None:
    task_id = store.create("export").id
    reached = []
    with track(task_id, store=store) as tracker:
        tracker.min_interval = 0
        report_progress(10)
        store.update(task_id, Change(TaskState.CANCELLED))
        report_progress(20)  # raises TaskCancelled, which track() swallows
        reached.append("after")  # pragma: no cover
    assert reached == []
    record = store.get(task_id)
    assert record is not None
    assert record.state is TaskState.CANCELLED


def test_default_store(make_store: StoreFactory) -> None:
    set_default_store(None)
    with pytest.raises(ConfigError, match="set_default_store"), track(new_task_id()):
        pass
    store = make_store()
    set_default_store(store)
    try:
        with track(task_id := new_task_id()):
            pass
        record = store.get(task_id)
        assert record is not None
        assert record.state is TaskState.SUCCEEDED
    finally:
        set_default_store(None)


def test_report_progress_outside_a_task_does_nothing() -> None:
    report_progress(50)
    with pytest.raises(TaskCancelled):
        raise TaskCancelled("x")


NOW = datetime(2026, 1, 1, tzinfo=UTC)
changes = st.builds(
    Change,
    state=st.sampled_from(list(TaskState)),
    attempt=st.one_of(st.none(), st.integers(1, 3)),
    progress=st.one_of(st.none(), st.builds(Progress, st.floats(0, 100))),
)


@settings(deadline=None)  # a loaded CI machine must not turn slowness into failures
@given(st.lists(changes, max_size=12))
def test_records_only_move_forward(sequence: list[Change]) -> None:
    record = new_record("t", now=NOW)
    for n, change in enumerate(sequence):
        updated = apply_change(record, change, NOW + timedelta(seconds=n))
        if updated is None:
            continue
        assert updated.version == record.version + 1
        if record.state.terminal:
            pytest.fail("a terminal state changed")
        assert updated.attempt >= record.attempt
        if updated.state is not TaskState.CANCELLED and updated.attempt == record.attempt:
            assert updated.state.rank >= record.state.rank
        if updated.state.terminal:
            assert updated.finished_at is not None
        record = updated


def test_late_started_of_an_old_attempt_is_dropped() -> None:
    record = new_record("t", now=NOW)
    for change in (
        Change(TaskState.STARTED, attempt=1),
        Change(TaskState.RETRYING, attempt=1),
        Change(TaskState.STARTED, attempt=2),
    ):
        updated = apply_change(record, change, NOW)
        assert updated is not None
        record = updated
    assert apply_change(record, Change(TaskState.STARTED, attempt=1), NOW) is None
    assert apply_change(record, Change(TaskState.RETRYING, attempt=1), NOW) is None
    assert apply_change(record, Change(TaskState.PROGRESS, attempt=2), NOW) is not None


def test_work_goes_on_when_the_store_is_down() -> None:
    from tests.conftest import free_port
    from tocsin.tasks.redis_store import RedisTaskStore

    store = RedisTaskStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    done = []
    with track(new_task_id(), store=store) as tracker:
        report_progress(50)
        tracker.result = 1
        done.append(True)
    assert done == [True]
    store.close()
