"""Flask blueprint: ``GET /tasks/<id>``, ``GET /tasks/<id>/events`` (SSE), cancel and retry.

    app.register_blueprint(task_blueprint(store, authorize=...), url_prefix="/tasks")

Requests become calls on ``tocsin.tasks.task_endpoint.TaskEndpoint``; this module only
translates. SSE holds a worker thread per open stream: serve the app with a threaded or
async worker (gunicorn ``-k gthread --threads N`` or ``-k gevent``). On gunicorn's default
*sync* workers one open stream blocks a whole worker, and a few streams starve the app; the
JSON endpoint (polled every ~2 s, see ``Retry-After``) is the always-safe fallback.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from tocsin.tasks.access import ActionHook, AuthorizeHook, PrivilegedHook
from tocsin.tasks.sse import SSE_HEADERS, SSE_MEDIA_TYPE, sync_stream
from tocsin.tasks.store import TaskStore
from tocsin.tasks.task_endpoint import TaskAnswer, TaskEndpoint


def _to_flask(answer: TaskAnswer) -> Response:
    return Response(answer.body, status=answer.status, headers=answer.headers)


def task_blueprint(
    store: TaskStore,
    *,
    authorize: AuthorizeHook | None = None,
    privileged: PrivilegedHook | None = None,
    on_cancel: ActionHook | None = None,
    on_retry: ActionHook | None = None,
    keepalive: float = 15.0,
    retry_after: int = 2,
    name: str = "tocsin_tasks",
) -> Blueprint:
    """A blueprint serving task status from ``store``.

    ``authorize(task, request)`` decides who sees a task that has an owner (others get 404);
    ``privileged(request)`` unlocks tracebacks. ``on_cancel(task)`` runs after a task is
    marked cancelled (e.g. stop the RQ job); ``POST .../retry`` exists only with
    ``on_retry(task)``, which must re-enqueue the work under the same id.
    """
    endpoint = TaskEndpoint(
        store,
        authorize=authorize,
        privileged=privileged,
        on_cancel=on_cancel,
        on_retry=on_retry,
        retry_after=retry_after,
    )
    bp = Blueprint(name, __name__)

    @bp.get("/<task_id>")
    def status(task_id: str) -> Response:
        if_none_match = request.headers.get("If-None-Match")
        return _to_flask(endpoint.status(task_id, request, if_none_match))

    @bp.get("/<task_id>/events")
    def events(task_id: str) -> Response:
        record = endpoint.find(task_id, request)
        if isinstance(record, TaskAnswer):
            return _to_flask(record)
        last_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
        start = endpoint.start_stream(record, request, last_id)
        if isinstance(start, TaskAnswer):
            return _to_flask(start)
        stream = sync_stream(
            store, start.task_id, start.opening, privileged=start.privileged, keepalive=keepalive
        )
        return Response(stream, mimetype=SSE_MEDIA_TYPE, headers=SSE_HEADERS)

    @bp.post("/<task_id>/cancel")
    def cancel(task_id: str) -> Response:
        return _to_flask(endpoint.cancel(task_id, request))

    @bp.post("/<task_id>/retry")
    def retry(task_id: str) -> Response:
        return _to_flask(endpoint.retry(task_id, request))

    return bp
