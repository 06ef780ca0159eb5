"""Framework-free HTTP logic of the task endpoints: status, cancel, retry, stream start.

The Flask blueprint and the ASGI routes turn requests into calls on :class:`TaskEndpoint`
and send back the :class:`TaskAnswer` it returns; only the SSE streams themselves live in
the adapters (``tocsin.tasks.sse``: blocking for WSGI; hub-fed in the ASGI routes). Every
method is synchronous, like the stores: the ASGI routes call them in the thread pool. A
``TaskStoreError`` becomes 503 with ``Retry-After`` here and nowhere else.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from tocsin.tasks.access import ActionHook, AuthorizeHook, PrivilegedHook, TaskAccess
from tocsin.tasks.records import (
    Change,
    TaskError,
    TaskEvent,
    TaskRecord,
    parse_event_id,
    valid_task_id,
)
from tocsin.tasks.store import TaskStore, TaskStoreError
from tocsin.tasks.task_states import TaskState

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_JSON = "application/json"
_RETRYABLE = (TaskState.FAILED, TaskState.CANCELLED)


@dataclass(frozen=True, slots=True)
class TaskAnswer:
    """A finished HTTP answer: status, headers (``Content-Type`` included) and body."""

    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class StreamStart:
    """An SSE stream that may begin: the task, what it opens with, and for whom."""

    task_id: str
    opening: list[TaskEvent]
    privileged: bool


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> TaskAnswer:
    data = json.dumps(body, separators=(",", ":")).encode()
    return TaskAnswer(status, {"Content-Type": _JSON, **(headers or {})}, data)


def _error(status: int, message: str) -> TaskAnswer:
    return _json(status, {"error": message})


def not_found() -> TaskAnswer:
    """The one 404 of the task endpoints (unknown, not yours, not an id, no such route)."""
    return _error(404, "no such task")


def _store_errors_answer_503(
    method: Callable[Concatenate[TaskEndpoint, P], R],
) -> Callable[Concatenate[TaskEndpoint, P], R | TaskAnswer]:
    @functools.wraps(method)
    def guarded(self: TaskEndpoint, /, *args: P.args, **kwargs: P.kwargs) -> R | TaskAnswer:
        try:
            return method(self, *args, **kwargs)
        except TaskStoreError as exc:
            return self.unavailable(exc)

    return guarded


class TaskEndpoint:
    """The rules of the task endpoints for one store and access policy.

    ``request`` arguments are the framework's request object, handed to the hooks only.
    ``on_cancel(task)`` runs after a task was marked cancelled; without ``on_retry`` the
    retry endpoint answers 404, as if it did not exist.
    """

    def __init__(
        self,
        store: TaskStore,
        *,
        authorize: AuthorizeHook | None = None,
        privileged: PrivilegedHook | None = None,
        on_cancel: ActionHook | None = None,
        on_retry: ActionHook | None = None,
        retry_after: int = 2,
    ) -> None:
        self.store = store
        self.access = TaskAccess(authorize, privileged)
        self.on_cancel = on_cancel
        self.on_retry = on_retry
        self.retry_after = retry_after

    @_store_errors_answer_503
    def find(self, task_id: str, request: Any) -> TaskRecord | TaskAnswer:
        """The task if this caller may see it, else the same 404 for "not yours",
        "no such task" and "not an id"."""
        if not valid_task_id(task_id):
            return not_found()
        record = self.store.get(task_id)
        if record is None or not self.access.can_see(record, request):
            return not_found()
        return record

    def status(self, task_id: str, request: Any, if_none_match: str | None) -> TaskAnswer:
        """``GET /<id>``: the task as JSON, with ``ETag`` and ``Retry-After`` while running."""
        record = self.find(task_id, request)
        if isinstance(record, TaskAnswer):
            return record
        privileged = self.access.is_privileged(request)
        tag = etag(record, privileged)
        headers = {"ETag": tag, "Cache-Control": "no-store"}
        if not record.state.terminal:
            headers["Retry-After"] = str(self.retry_after)
        if etag_matches(if_none_match, tag):
            return TaskAnswer(304, headers)
        return TaskAnswer(200, {"Content-Type": _JSON, **headers}, status_body(record, privileged))

    @_store_errors_answer_503
    def start_stream(
        self, record: TaskRecord, request: Any, last_event_id: str | None
    ) -> StreamStart | TaskAnswer:
        """``GET /<id>/events`` after :meth:`find`: the events to open with (those after a
        well-formed ``Last-Event-ID``, else the latest snapshot), or 204 when a finished
        task's client already saw everything (``EventSource`` then stops reconnecting)."""
        last_id = parse_event_id(last_event_id)
        if last_id:
            opening = self.store.events_after(record.id, last_id)
            if record.state.terminal and not opening:
                return TaskAnswer(204, {"Cache-Control": "no-store"})
        else:
            latest = self.store.latest_event(record.id)
            opening = [latest] if latest else []
        return StreamStart(record.id, opening, self.access.is_privileged(request))

    @_store_errors_answer_503
    def cancel(self, task_id: str, request: Any) -> TaskAnswer:
        """``POST /<id>/cancel``: mark the task cancelled, then run ``on_cancel``."""
        record = self.find(task_id, request)
        if isinstance(record, TaskAnswer):
            return record
        if record.state.terminal:
            return _error(409, f"task already {record.state}")
        updated = self.store.update(record.id, Change(TaskState.CANCELLED))
        if updated is None:
            return _error(409, "task already finished")
        if self.on_cancel is not None:
            try:
                self.on_cancel(updated)
            except Exception:  # the task still stops at its next report_progress()
                logger.exception("task cancel hook failed task_id=%s", updated.id)
        return self._accepted(updated, request)

    @_store_errors_answer_503
    def retry(self, task_id: str, request: Any) -> TaskAnswer:
        """``POST /<id>/retry``: re-open a failed or cancelled task, then ``on_retry``
        re-enqueues it under the same id."""
        record = self.find(task_id, request)
        if isinstance(record, TaskAnswer):
            return record
        if self.on_retry is None:
            return not_found()
        if record.members:
            return _error(409, "a task group cannot be retried; retry its failed members")
        if record.state not in _RETRYABLE:
            return _error(409, "only failed or cancelled tasks can be retried")
        updated = self.store.update(record.id, Change(TaskState.QUEUED, requeue=True))
        if updated is None:
            return _error(409, "task changed meanwhile")
        try:
            self.on_retry(updated)
        except Exception as exc:
            # Nothing will run: put the record back to failed (with why), not left queued.
            logger.exception("task retry hook failed task_id=%s", updated.id)
            error = TaskError(type(exc).__name__, f"could not re-enqueue the task: {exc}")
            self.store.update(updated.id, Change(TaskState.FAILED, error=error))
            return _error(503, "the task could not be re-enqueued")
        return self._accepted(updated, request)

    def _accepted(self, record: TaskRecord, request: Any) -> TaskAnswer:
        return TaskAnswer(
            202,
            {"Content-Type": _JSON},
            status_body(record, self.access.is_privileged(request)),
        )

    def unavailable(self, exc: Exception) -> TaskAnswer:
        """503 with ``Retry-After`` for a store that cannot answer (logged, no traceback)."""
        logger.warning("task store unavailable error=%s", exc)
        return _json(
            503,
            {"error": "task status is unavailable right now"},
            {"Retry-After": str(self.retry_after)},
        )


def etag(record: TaskRecord, privileged: bool) -> str:
    """Strong ETag of the JSON body: it changes with every accepted update."""
    return f'"{record.version}{"p" if privileged else ""}"'


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """True when the client's ``If-None-Match`` already names ``tag``."""
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return tag in candidates or "*" in candidates


def status_body(record: TaskRecord, privileged: bool) -> bytes:
    """The task's JSON, as ``GET /tasks/<id>`` and the cancel/retry answers send it."""
    return json.dumps(record.public_dict(privileged=privileged), separators=(",", ":")).encode()
