"""Task groups: the derived state (pure), the group records on every store backend (Redis,
SQLite, PostgreSQL), the framework-free endpoint, and lists of RQ jobs run by a real worker
(Celery groups and chords: test_celery_groups.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis import Redis
from rq import Queue
from rq.job import JobStatus

from tests.tasks.conftest import StoreFactory
from tests.tasks.group_checks import assert_one_member_per_event, member_states, stream_group
from tests.tasks.helpers import serve
from tests.tasks.jobs import always_fail, build_report, wait_for_cancel
from tests.tasks.test_rq import worker  # noqa: F401 (the fixture)
from tocsin.tasks import Change, Progress, TaskCancelled, TaskError, TaskState, TaskStore, Tracker
from tocsin.tasks.groups import aggregate_progress, create_group, derive_state
from tocsin.tasks.records import GroupMember, TaskRecord
from tocsin.tasks.rq import enqueue_group
from tocsin.tasks.task_endpoint import TaskEndpoint

Q, S, P, R = TaskState.QUEUED, TaskState.STARTED, TaskState.PROGRESS, TaskState.RETRYING
OK, FAIL, CANCEL = TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED


def members(*states: TaskState, callback: TaskState | None = None) -> list[GroupMember]:
    entries = [GroupMember(f"m{n}", "job", state) for n, state in enumerate(states)]
    if callback is not None:
        entries.append(GroupMember("cb", "total", callback, callback=True))
    return entries


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (members(Q, Q, Q), Q),
        (members(S, Q, Q), S),
        (members(R, Q), S),
        (members(OK, Q, Q), P),
        (members(OK, OK, OK), OK),
        (members(FAIL, S, Q), P),  # failed only once the rest finished
        (members(FAIL, OK, OK), FAIL),
        (members(FAIL, CANCEL, OK), FAIL),
        (members(CANCEL, OK, OK), CANCEL),
        (members(OK, OK, callback=Q), P),  # the chord waits for its callback
        (members(OK, OK, callback=S), P),
        (members(OK, OK, callback=OK), OK),
        (members(OK, OK, callback=FAIL), FAIL),
        (members(FAIL, OK, callback=Q), FAIL),  # the callback will never run
        (members(FAIL, S, callback=Q), P),
        (members(CANCEL, OK, callback=Q), CANCEL),
    ],
)
def test_derived_state(entries: list[GroupMember], expected: TaskState) -> None:
    assert derive_state(entries) is expected


def test_aggregate_progress_counts_finished_members_as_done() -> None:
    entries = [
        GroupMember("a", "job", OK),
        GroupMember("b", "job", P, Progress(current=1, total=2)),
        GroupMember("c", "job", FAIL),
        GroupMember("d", "job", Q),
    ]
    progress = aggregate_progress(entries)
    assert progress.resolved_percent == 62.5
    assert (progress.current, progress.total) == (2, 4)
    assert progress.message == "2 of 4 finished, 1 failed"


def three(store: TaskStore, owner: str | None = None) -> TaskRecord:
    return create_group(
        store,
        "reports",
        [("a" * 32, "build"), ("b" * 32, "build"), ("c" * 32, "build")],
        owner=owner,
    )


def get(store: TaskStore, task_id: str) -> TaskRecord:
    record = store.get(task_id)
    assert record is not None
    return record


def test_members_changes_flow_into_the_group(store: TaskStore) -> None:
    group = three(store, owner="alice")
    a, b, c = (member.id for member in group.members)
    assert group.state is TaskState.QUEUED
    assert get(store, a).group_id == group.id
    assert get(store, a).owner == "alice"

    store.update(a, Change(S))
    store.update(a, Change(P, progress=Progress(current=1, total=2)))
    store.update(b, Change(S))
    now = get(store, group.id)
    assert now.state is TaskState.PROGRESS
    assert now.progress is not None and now.progress.resolved_percent == pytest.approx(16.67)
    assert [m.state for m in now.members] == [P, S, Q]
    assert now.members[0].progress == Progress(50.0, current=1, total=2)
    assert now.started_at is not None

    for member in (a, b, c):
        store.update(member, Change(OK, result={"rows": 1}))
    done = get(store, group.id)
    assert done.state is TaskState.SUCCEEDED
    assert done.finished_at is not None
    assert done.progress is not None and done.progress.resolved_percent == 100.0
    # One group event per accepted member change, in order, ending at the terminal state.
    events = store.events_after(group.id, None, limit=1000)
    assert [e.record.version for e in events] == list(range(1, 8))
    assert [e.record.state for e in events][-2:] == [P, OK]
    public = json.loads(json.dumps(done.public_dict()))
    assert [m["state"] for m in public["members"]] == ["succeeded"] * 3
    assert "group_id" not in public


def test_a_late_update_never_regresses_a_member_or_the_group(store: TaskStore) -> None:
    group = three(store)
    a = group.members[0].id
    store.update(a, Change(S))
    store.update(a, Change(OK))
    before = get(store, group.id)
    assert store.update(a, Change(S)) is None
    assert store.update(a, Change(P, progress=Progress(50))) is None
    after = get(store, group.id)
    assert after.version == before.version
    assert after.members[0].state is OK


def test_one_failed_member_fails_the_group_once_the_rest_finished(store: TaskStore) -> None:
    group = three(store)
    a, b, c = (member.id for member in group.members)
    store.update(a, Change(S))
    store.update(a, Change(FAIL, error=TaskError("ValueError", "bad row", "Traceback: x")))
    running = get(store, group.id)
    assert running.state is TaskState.PROGRESS
    assert running.error is None
    assert running.members[0].error == TaskError("ValueError", "bad row")  # no traceback
    store.update(b, Change(OK))
    store.update(c, Change(CANCEL))
    failed = get(store, group.id)
    assert failed.state is TaskState.FAILED
    assert failed.error is not None
    assert (failed.error.type, failed.error.message) == ("ValueError", "build: bad row")
    # The traceback stays on the member's own record (the group is rewritten on each change).
    assert failed.error.traceback is None
    assert get(store, a).error == TaskError("ValueError", "bad row", "Traceback: x")


def test_a_chord_ends_with_its_callback(store: TaskStore) -> None:
    group = create_group(store, "chord", [("h1", "build"), ("h2", "build")], callback=("cb", "sum"))
    for member in ("h1", "h2"):
        store.update(member, Change(OK, result=1))
    assert get(store, group.id).state is TaskState.PROGRESS
    store.update("cb", Change(S))
    store.update("cb", Change(OK, result=2))
    done = get(store, group.id)
    assert done.state is TaskState.SUCCEEDED
    assert done.result == 2
    assert done.members[-1].callback


def test_a_chord_keeps_its_callbacks_result_when_a_header_reports_last(
    store: TaskStore,
) -> None:
    # Each worker process reports its own tasks: the callback's success can be recorded
    # before the success of the header member whose end started it.
    group = create_group(store, "chord", [("h1", "build"), ("h2", "build")], callback=("cb", "sum"))
    store.update("h1", Change(OK, result=1))
    store.update("cb", Change(OK, result=2))
    assert get(store, group.id).state is TaskState.PROGRESS
    store.update("h2", Change(OK, result=1))
    done = get(store, group.id)
    assert done.state is TaskState.SUCCEEDED
    assert done.result == 2


def test_a_chord_whose_header_failed_does_not_wait_for_the_callback(store: TaskStore) -> None:
    group = create_group(store, "chord", [("h1", "build"), ("h2", "build")], callback=("cb", "sum"))
    store.update("h1", Change(FAIL, error=TaskError("ValueError", "bad")))
    store.update("h2", Change(OK))
    assert get(store, group.id).state is TaskState.FAILED


def test_cancelling_the_group_cancels_its_unfinished_members(store: TaskStore) -> None:
    group = three(store)
    a, b, _c = (member.id for member in group.members)
    store.update(a, Change(OK))
    store.update(b, Change(S))
    assert store.update(group.id, Change(P, progress=Progress(50))) is None  # derived only
    cancelled = store.update(group.id, Change(CANCEL))
    assert cancelled is not None and cancelled.state is TaskState.CANCELLED
    assert [m.state for m in cancelled.members] == [OK, CANCEL, CANCEL]
    assert get(store, b).state is TaskState.CANCELLED
    assert get(store, a).state is TaskState.SUCCEEDED
    with pytest.raises(TaskCancelled):
        Tracker(store, b).progress(60)
    assert get(store, group.id).version == cancelled.version


def test_concurrent_members_lose_no_change(make_store: StoreFactory) -> None:
    writers = [make_store() for _ in range(3)]
    group = three(writers[0])
    steps = 15

    def run(store: TaskStore, member_id: str) -> None:
        tracker = Tracker(store, member_id)
        tracker.min_interval = 0
        tracker.started()
        for step in range(1, steps + 1):
            tracker.progress(current=step, total=steps)
        tracker.succeeded()

    threads = [
        threading.Thread(target=run, args=(store, member.id))
        for store, member in zip(writers, group.members, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = get(writers[0], group.id)
    assert done.state is TaskState.SUCCEEDED
    for entry in done.members:
        assert entry.version == get(writers[0], entry.id).version == steps + 3
    # Every accepted member change moved the group once: nothing overwritten, nothing lost.
    assert done.version == 1 + 3 * (steps + 2)


def test_the_endpoint_shows_a_group_and_refuses_to_retry_it(store: TaskStore) -> None:
    group = three(store, owner="alice")
    store.update(group.members[0].id, Change(FAIL, error=TaskError("ValueError", "bad")))
    point = TaskEndpoint(
        store,
        authorize=lambda task, request: request.get("user") == task.owner,
        on_retry=lambda record: None,
    )
    answer = point.status(group.id, {"user": "alice"}, None)
    body: dict[str, Any] = json.loads(answer.body)
    assert answer.status == 200
    assert [m["id"] for m in body["members"]] == [m.id for m in group.members]
    assert body["members"][0]["error"] == {"type": "ValueError", "message": "bad"}
    assert point.status(group.id, {"user": "mallory"}, None).status == 404
    store.update(group.members[1].id, Change(OK))
    store.update(group.members[2].id, Change(OK))
    refused = point.retry(group.id, {"user": "alice"})
    assert refused.status == 409
    assert json.loads(refused.body) == {
        "error": "a task group cannot be retried; retry its failed members"
    }


# --- a list of RQ jobs, run by a real ``rq worker -w tocsin.tasks.rq.TrackingWorker`` ---


@pytest.fixture
def rq_connection(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.mark.slow
@pytest.mark.usefixtures("worker")
def test_rq_group_progress_streams_to_success(rq_connection: Redis, redis_url: str) -> None:
    queue = Queue(connection=rq_connection)
    calls = [Queue.prepare_data(build_report, (3,)) for _ in range(3)]
    sent = enqueue_group(queue, calls, name="monthly reports", owner="alice")
    assert [job.id for job in sent.handle] == [
        m.id for m in get(store_of(rq_connection), sent.id).members
    ]
    with serve("flask", redis_url) as base:
        snapshots = stream_group(base, sent.id, user="alice")
        final = httpx.get(f"{base}/tasks/{sent.id}", headers={"X-User": "alice"}).json()
    states = [snapshot["state"] for snapshot in snapshots]
    assert states[0] == "queued"
    assert states[-1] == "succeeded"
    assert "progress" in states
    percents = [snapshot["progress"]["percent"] for snapshot in snapshots[1:]]
    assert any(0 < percent < 100 for percent in percents)
    assert percents[-1] == 100
    assert_one_member_per_event(snapshots)
    for seen in member_states(snapshots).values():
        assert seen == ["queued", "started", "progress", "succeeded"]
    assert final["name"] == "monthly reports"
    assert [m["state"] for m in final["members"]] == ["succeeded"] * 3
    assert [m["name"] for m in final["members"]] == ["tests.tasks.jobs.build_report"] * 3


@pytest.mark.slow
@pytest.mark.usefixtures("worker")
def test_rq_group_with_a_failing_job_fails(rq_connection: Redis, redis_url: str) -> None:
    queue = Queue(connection=rq_connection)
    calls = [Queue.prepare_data(build_report, (1,)), Queue.prepare_data(always_fail)]
    sent = enqueue_group(queue, calls)
    with serve("asgi", redis_url) as base:
        snapshots = stream_group(base, sent.id)
    final = snapshots[-1]
    assert final["state"] == "failed"
    assert [m["state"] for m in final["members"]] == ["succeeded", "failed"]
    assert final["error"] == {
        "type": "ValueError",
        "message": "tests.tasks.jobs.always_fail: the report template is broken",
    }


@pytest.mark.slow
@pytest.mark.usefixtures("worker")
def test_rq_group_cancel_endpoint_stops_every_job(rq_connection: Redis, redis_url: str) -> None:
    store = store_of(rq_connection)
    queue = Queue(connection=rq_connection)
    calls = [Queue.prepare_data(wait_for_cancel, (20,)) for _ in range(2)]
    sent = enqueue_group(queue, calls, owner="alice")
    running, waiting = sent.handle
    deadline = time.monotonic() + 15
    while get(store, running.id).state is not TaskState.PROGRESS:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with serve("flask", redis_url, rq_hooks=True) as base:
        answer = httpx.post(f"{base}/tasks/{sent.id}/cancel", headers={"X-User": "alice"})
        assert answer.status_code == 202
        assert [m["state"] for m in answer.json()["members"]] == ["cancelled", "cancelled"]
    assert get(store, waiting.id).state is TaskState.CANCELLED
    assert waiting.get_status(refresh=True) == JobStatus.CANCELED
    deadline = time.monotonic() + 15
    while running.get_status(refresh=True) == JobStatus.STARTED:  # stopped by the hook
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert get(store, running.id).state is TaskState.CANCELLED
    assert get(store, sent.id).state is TaskState.CANCELLED


def store_of(client: Redis) -> TaskStore:
    from tocsin.tasks.redis_store import RedisTaskStore

    return RedisTaskStore(client)
