"""The framework-free task endpoint rules, on every store backend, without a web server.

The request is whatever the application's hooks understand: here a plain dict.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tocsin.tasks import Change, TaskError, TaskRecord, TaskState, TaskStore
from tocsin.tasks.task_endpoint import StreamStart, TaskAnswer, TaskEndpoint

ALICE = {"user": "alice"}
ADMIN = {"user": "alice", "admin": True}


def endpoint(store: TaskStore, **hooks: Any) -> TaskEndpoint:
    return TaskEndpoint(
        store,
        authorize=lambda task, request: request.get("user") == task.owner,
        privileged=lambda request: bool(request.get("admin")),
        **hooks,
    )


def body(answer: TaskAnswer) -> Any:
    assert answer.headers["Content-Type"] == "application/json"
    return json.loads(answer.body)


def failed_task(store: TaskStore) -> TaskRecord:
    task = store.create("report", owner="alice")
    store.update(task.id, Change(TaskState.STARTED))
    error = TaskError("ValueError", "bad row", "Traceback: x")
    failed = store.update(task.id, Change(TaskState.FAILED, error=error))
    assert failed is not None
    return failed


def test_status_etag_and_what_each_caller_sees(store: TaskStore) -> None:
    task = failed_task(store)
    point = endpoint(store)
    answer = point.status(task.id, ALICE, None)
    assert answer.status == 200
    assert body(answer)["error"] == {"type": "ValueError", "message": "bad row"}
    assert "Retry-After" not in answer.headers  # finished: no need to poll again
    assert point.status(task.id, ALICE, answer.headers["ETag"]).status == 304
    assert body(point.status(task.id, ADMIN, None))["error"]["traceback"] == "Traceback: x"
    for caller in ({"user": "mallory"}, {}):
        denied = point.status(task.id, caller, None)
        assert (denied.status, body(denied)) == (404, {"error": "no such task"})
    assert point.status("not an id!", ALICE, None).status == 404


def test_cancel_then_cancel_again(store: TaskStore) -> None:
    task = store.create("report", owner="alice")
    cancelled: list[str] = []
    point = endpoint(store, on_cancel=lambda record: cancelled.append(record.id))
    first = point.cancel(task.id, ALICE)
    assert (first.status, body(first)["state"]) == (202, "cancelled")
    again = point.cancel(task.id, ALICE)
    assert (again.status, body(again)) == (409, {"error": "task already cancelled"})
    assert cancelled == [task.id]


def test_a_failing_cancel_hook_still_cancels(store: TaskStore) -> None:
    task = store.create("report", owner="alice")

    def broken(record: TaskRecord) -> None:
        raise RuntimeError("queue gone")

    assert endpoint(store, on_cancel=broken).cancel(task.id, ALICE).status == 202
    current = store.get(task.id)
    assert current is not None and current.state is TaskState.CANCELLED


def test_retry_exists_only_with_a_hook_and_only_for_failed_tasks(store: TaskStore) -> None:
    task = failed_task(store)
    running = store.create("export", owner="alice")
    requeued: list[str] = []
    assert endpoint(store).retry(task.id, ALICE).status == 404
    point = endpoint(store, on_retry=lambda record: requeued.append(record.id))
    refused = point.retry(running.id, ALICE)
    assert (refused.status, body(refused)) == (
        409,
        {"error": "only failed or cancelled tasks can be retried"},
    )
    accepted = point.retry(task.id, ALICE)
    assert (accepted.status, body(accepted)["state"]) == (202, "queued")
    assert requeued == [task.id]
    assert point.retry(task.id, {"user": "mallory"}).status == 404


def test_a_failing_retry_hook_puts_the_task_back_to_failed(store: TaskStore) -> None:
    task = failed_task(store)

    def broken(record: TaskRecord) -> None:
        raise ConnectionError("broker down")

    answer = endpoint(store, on_retry=broken).retry(task.id, ALICE)
    assert (answer.status, body(answer)) == (503, {"error": "the task could not be re-enqueued"})
    current = store.get(task.id)
    assert current is not None
    assert current.state is TaskState.FAILED
    assert current.error is not None
    assert "could not re-enqueue the task: broker down" in current.error.message


def test_stream_start_resumes_or_ends(store: TaskStore) -> None:
    task = store.create("report")
    point = endpoint(store)
    store.update(task.id, Change(TaskState.STARTED))
    store.update(task.id, Change(TaskState.SUCCEEDED))
    record = point.find(task.id, {})
    assert isinstance(record, TaskRecord)
    fresh = point.start_stream(record, {}, None)
    assert isinstance(fresh, StreamStart)
    assert [e.record.state for e in fresh.opening] == [TaskState.SUCCEEDED]
    # A client that saw the last event is told to stop reconnecting.
    done = point.start_stream(record, {}, fresh.opening[-1].id)
    assert isinstance(done, TaskAnswer) and done.status == 204
    # A malformed Last-Event-ID counts as none: the latest snapshot again.
    garbled = point.start_stream(record, {}, "not-an-id")
    assert isinstance(garbled, StreamStart) and len(garbled.opening) == 1


@pytest.mark.parametrize("action", ["status", "cancel", "retry"])
def test_store_down_answers_503(action: str) -> None:
    from tests.conftest import free_port
    from tocsin.tasks.redis_store import RedisTaskStore

    store = RedisTaskStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    point = endpoint(store, on_retry=lambda record: None)
    args: tuple[Any, ...] = (ALICE, None) if action == "status" else (ALICE,)
    answer = getattr(point, action)("a" * 32, *args)
    assert (answer.status, body(answer)) == (503, {"error": "task status is unavailable right now"})
    assert answer.headers["Retry-After"] == "2"
    store.close()
