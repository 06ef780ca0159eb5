"""Task status views: ``GET <id>``, ``GET <id>/events`` (SSE), cancel and retry.

    path("tasks/", include(task_urls(store, authorize=...)))

Requests become calls on :class:`tocsin.tasks.task_endpoint.TaskEndpoint`; the hooks get
Django's ``HttpRequest`` (``request.user`` included). The POST views stay behind Django's
CSRF middleware like the rest of the site. An SSE stream holds a worker thread while it is
open: under WSGI serve with threads (gunicorn ``-k gthread``); under ASGI the stream is
read in a thread of the event loop's default executor, one per open stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import URLPattern, path

from tocsin.django.responses import SAFE_METHODS, refuse_method, to_django
from tocsin.tasks.access import ActionHook, AuthorizeHook, PrivilegedHook
from tocsin.tasks.sse import SSE_HEADERS, SSE_MEDIA_TYPE, sync_stream
from tocsin.tasks.store import TaskStore
from tocsin.tasks.task_endpoint import TaskAnswer, TaskEndpoint


def _send(answer: TaskAnswer) -> HttpResponse:
    return to_django(answer.status, answer.headers, answer.body)


async def _read_in_threads(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A blocking stream as an async one, each chunk read in a worker thread.

    Django's ASGI handler would otherwise read a sync iterator to its end before sending
    anything, which an SSE stream never reaches until its task ends.
    """
    pull = sync_to_async(_next_chunk, thread_sensitive=False)
    while (chunk := await pull(chunks)) is not None:
        yield chunk


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


class TaskViews:
    """The four views, bound to one :class:`TaskEndpoint` and its store."""

    def __init__(self, endpoint: TaskEndpoint, keepalive: float) -> None:
        self.endpoint = endpoint
        self.keepalive = keepalive

    def status(self, request: HttpRequest, task_id: str) -> HttpResponse:
        """The task as JSON, with ``ETag`` (304 on ``If-None-Match``) and ``Retry-After``."""
        refused = refuse_method(request, SAFE_METHODS)
        if refused is not None:
            return refused
        if_none_match = request.headers.get("If-None-Match")
        return _send(self.endpoint.status(task_id, request, if_none_match))

    def events(self, request: HttpRequest, task_id: str) -> HttpResponse:
        """SSE: the snapshot, then one event per change, ending after a terminal state."""
        refused = refuse_method(request, SAFE_METHODS)
        if refused is not None:
            return refused
        record = self.endpoint.find(task_id, request)
        if isinstance(record, TaskAnswer):
            return _send(record)
        last_id = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
        start = self.endpoint.start_stream(record, request, last_id)
        if isinstance(start, TaskAnswer):
            return _send(start)
        stream = sync_stream(
            self.endpoint.store,
            start.task_id,
            start.opening,
            privileged=start.privileged,
            keepalive=self.keepalive,
        )
        body = _read_in_threads(stream) if isinstance(request, ASGIRequest) else stream
        return StreamingHttpResponse(body, content_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)

    def cancel(self, request: HttpRequest, task_id: str) -> HttpResponse:
        """Mark the task cancelled (202), then ``on_cancel``; 409 once it finished."""
        refused = refuse_method(request, ("POST",))
        if refused is not None:
            return refused
        return _send(self.endpoint.cancel(task_id, request))

    def retry(self, request: HttpRequest, task_id: str) -> HttpResponse:
        """Re-open a failed or cancelled task and ``on_retry`` it (404 without the hook)."""
        refused = refuse_method(request, ("POST",))
        if refused is not None:
            return refused
        return _send(self.endpoint.retry(task_id, request))


def task_urls(
    store: TaskStore,
    *,
    authorize: AuthorizeHook | None = None,
    privileged: PrivilegedHook | None = None,
    on_cancel: ActionHook | None = None,
    on_retry: ActionHook | None = None,
    keepalive: float = 15.0,
    retry_after: int = 2,
) -> list[URLPattern]:
    """URL patterns serving task status from ``store``; ``include()`` them under a prefix.

    ``authorize(task, request)`` decides who sees a task that has an owner (others get 404);
    ``privileged(request)`` unlocks tracebacks. ``on_cancel(task)`` runs after a task is
    marked cancelled; ``POST <id>/retry`` exists only with ``on_retry(task)``, which must
    re-enqueue the work under the same id. Names: ``tocsin-task``, ``tocsin-task-events``,
    ``tocsin-task-cancel``, ``tocsin-task-retry``.
    """
    endpoint = TaskEndpoint(
        store,
        authorize=authorize,
        privileged=privileged,
        on_cancel=on_cancel,
        on_retry=on_retry,
        retry_after=retry_after,
    )
    views = TaskViews(endpoint, keepalive)
    return [
        path("<str:task_id>", views.status, name="tocsin-task"),
        path("<str:task_id>/events", views.events, name="tocsin-task-events"),
        path("<str:task_id>/cancel", views.cancel, name="tocsin-task-cancel"),
        path("<str:task_id>/retry", views.retry, name="tocsin-task-retry"),
    ]
