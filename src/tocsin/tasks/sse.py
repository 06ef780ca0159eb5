"""What the HTTP layers (Flask and ASGI) share: access policy, JSON bodies and SSE framing.

Nothing here imports a web framework. ``TaskAccess`` answers "may this request see the
task, and the traceback?"; ``sync_stream`` is the blocking SSE generator used by WSGI servers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tocsin.tasks.records import Change, TaskError, TaskEvent, TaskRecord
from tocsin.tasks.store import TaskStore, TaskStoreError
from tocsin.tasks.task_states import TaskState

logger = logging.getLogger(__name__)

#: Headers of every SSE response; ``X-Accel-Buffering`` stops nginx from buffering events.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_MEDIA_TYPE = "text/event-stream"
KEEPALIVE = b": keep-alive\n\n"
#: Reconnect delay sent to ``EventSource`` clients (milliseconds).
RECONNECT_MS = 2000

AuthorizeHook = Callable[[TaskRecord, Any], bool]
PrivilegedHook = Callable[[Any], bool]
ActionHook = Callable[[TaskRecord], None]


@dataclass
class TaskAccess:
    """Who sees what. A task with an owner is visible only when ``authorize(task, request)``
    returns True (without a hook: never); a task without an owner is visible to anyone who
    knows its unguessable id. ``privileged(request)`` unlocks tracebacks and the owner."""

    authorize: AuthorizeHook | None = None
    privileged: PrivilegedHook | None = None

    def can_see(self, record: TaskRecord, request: Any) -> bool:
        """True when the request may know the task exists."""
        if record.owner is None:
            return True
        if self.authorize is None:
            return False
        try:
            return bool(self.authorize(record, request))
        except Exception:
            logger.exception("task authorize hook failed task_id=%s", record.id)
            return False

    def is_privileged(self, request: Any) -> bool:
        """True when the request may see tracebacks."""
        if self.privileged is None:
            return False
        try:
            return bool(self.privileged(request))
        except Exception:
            logger.exception("task privileged hook failed")
            return False


def run_cancel_hook(hook: ActionHook | None, record: TaskRecord) -> None:
    """Call ``on_cancel`` after the record says cancelled; a failing hook is only logged
    (the task stops at its next ``report_progress()`` anyway)."""
    if hook is None:
        return
    try:
        hook(record)
    except Exception:
        logger.exception("task cancel hook failed task_id=%s", record.id)


def run_retry_hook(store: TaskStore, hook: ActionHook, record: TaskRecord) -> bool:
    """Call ``on_retry`` after the record was re-opened. If the hook fails nothing will run,
    so the record goes back to ``failed`` (with why) instead of staying ``queued``."""
    try:
        hook(record)
    except Exception as exc:
        logger.exception("task retry hook failed task_id=%s", record.id)
        error = TaskError(type(exc).__name__, f"could not re-enqueue the task: {exc}")
        store.update(record.id, Change(TaskState.FAILED, error=error))
        return False
    return True


def etag(record: TaskRecord, privileged: bool) -> str:
    """Strong ETag of the JSON body: it changes with every accepted update."""
    return f'"{record.version}{"p" if privileged else ""}"'


def status_body(record: TaskRecord, privileged: bool) -> bytes:
    """The JSON body of ``GET /tasks/<id>``."""
    return json.dumps(record.public_dict(privileged=privileged), separators=(",", ":")).encode()


def status_headers(record: TaskRecord, privileged: bool, retry_after: int) -> dict[str, str]:
    """``ETag``, ``Cache-Control: no-store`` and, while the task runs, ``Retry-After``."""
    headers = {"ETag": etag(record, privileged), "Cache-Control": "no-store"}
    if not record.state.terminal:
        headers["Retry-After"] = str(retry_after)
    return headers


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """True when the client's ``If-None-Match`` already names ``tag``."""
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return tag in candidates or "*" in candidates


def format_event(event: TaskEvent, privileged: bool) -> bytes:
    """One SSE message: ``id`` (for ``Last-Event-ID``), ``event: task``, the JSON snapshot.

    Rendered once per event and audience: a thousand streams fed the same event object by
    the hub share one string.
    """
    text = event.rendered.get(privileged)
    if text is None:
        data = json.dumps(event.record.public_dict(privileged=privileged), separators=(",", ":"))
        message = f"id: {event.id}\nevent: task\ndata: {data}\n\n"
        text = event.rendered[privileged] = message.encode()
    return text


def opening_events(store: TaskStore, task_id: str, last_id: str | None) -> list[TaskEvent]:
    """What a new stream starts with: the events after ``last_id`` when resuming, else the
    latest snapshot."""
    if last_id:
        return store.events_after(task_id, last_id)
    latest = store.latest_event(task_id)
    return [latest] if latest else []


def nothing_to_resume(record: TaskRecord, last_id: str | None, opening: list[TaskEvent]) -> bool:
    """A reconnect after the end: the task is finished and the client saw everything.
    Answer 204, which tells ``EventSource`` to stop reconnecting."""
    return bool(last_id) and record.state.terminal and not opening


def sync_stream(
    store: TaskStore,
    task_id: str,
    opening: list[TaskEvent],
    *,
    privileged: bool,
    keepalive: float,
) -> Iterator[bytes]:
    """Blocking SSE generator for threaded WSGI servers: waits with ``store.wait_events``
    (``XREAD BLOCK`` on Redis, polling on SQL) and ends after a terminal state."""
    yield f"retry: {RECONNECT_MS}\n\n".encode()
    last: str | None = None
    try:
        for event in opening:
            yield format_event(event, privileged)
            last = event.id
            if event.record.state.terminal:
                return
        while True:
            events = store.wait_events(task_id, last, timeout=keepalive)
            if not events:
                if store.get(task_id) is None:
                    return
                yield KEEPALIVE
                continue
            for event in events:
                yield format_event(event, privileged)
                last = event.id
                if event.record.state.terminal:
                    return
    except TaskStoreError as exc:
        # End the stream; EventSource reconnects with Last-Event-ID and resumes.
        logger.warning("task stream ended task_id=%s error=%s", task_id, exc)
