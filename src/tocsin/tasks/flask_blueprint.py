"""Flask blueprint: ``GET /tasks/<id>``, ``GET /tasks/<id>/events`` (SSE), cancel and retry.

    app.register_blueprint(task_blueprint(store, authorize=...), url_prefix="/tasks")

SSE holds a worker thread per open stream: serve the app with a threaded or async worker
(gunicorn ``-k gthread --threads N`` or ``-k gevent``). On gunicorn's default *sync* workers
one open stream blocks a whole worker, and a few streams starve the app; the JSON endpoint
(polled every ~2 s, see ``Retry-After``) is the always-safe fallback.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from tocsin.tasks.records import Change, TaskRecord, parse_event_id, valid_task_id
from tocsin.tasks.sse import (
    SSE_HEADERS,
    SSE_MEDIA_TYPE,
    ActionHook,
    AuthorizeHook,
    PrivilegedHook,
    TaskAccess,
    etag,
    etag_matches,
    nothing_to_resume,
    opening_events,
    run_cancel_hook,
    run_retry_hook,
    status_body,
    status_headers,
    sync_stream,
)
from tocsin.tasks.store import TaskStore, TaskStoreError
from tocsin.tasks.task_states import TaskState

logger = logging.getLogger(__name__)


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
    access = TaskAccess(authorize, privileged)
    bp = Blueprint(name, __name__)

    def visible(task_id: str) -> TaskRecord | None:
        if not valid_task_id(task_id):
            return None
        record = store.get(task_id)
        if record is None or not access.can_see(record, request):
            return None
        return record

    @bp.errorhandler(TaskStoreError)
    def store_unavailable(exc: TaskStoreError) -> Response:
        logger.warning("task store unavailable error=%s", exc)
        response = jsonify({"error": "task status is unavailable right now"})
        response.status_code = 503
        response.headers["Retry-After"] = str(retry_after)
        return response

    def not_found() -> tuple[Response, int]:
        return jsonify({"error": "no such task"}), 404

    @bp.get("/<task_id>")
    def status(task_id: str) -> Response | tuple[Response, int]:
        record = visible(task_id)
        if record is None:
            return not_found()
        is_privileged = access.is_privileged(request)
        headers = status_headers(record, is_privileged, retry_after)
        if etag_matches(request.headers.get("If-None-Match"), etag(record, is_privileged)):
            return Response(status=304, headers=headers)
        return Response(
            status_body(record, is_privileged), mimetype="application/json", headers=headers
        )

    @bp.get("/<task_id>/events")
    def events(task_id: str) -> Response | tuple[Response, int]:
        record = visible(task_id)
        if record is None:
            return not_found()
        last_id = parse_event_id(
            request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
        )
        opening = opening_events(store, task_id, last_id)
        if nothing_to_resume(record, last_id, opening):
            return Response(status=204, headers={"Cache-Control": "no-store"})
        stream = sync_stream(
            store,
            task_id,
            opening,
            privileged=access.is_privileged(request),
            keepalive=keepalive,
        )
        return Response(stream, mimetype=SSE_MEDIA_TYPE, headers=SSE_HEADERS)

    @bp.post("/<task_id>/cancel")
    def cancel(task_id: str) -> tuple[Response, int]:
        record = visible(task_id)
        if record is None:
            return not_found()
        if record.state.terminal:
            return jsonify({"error": f"task already {record.state}"}), 409
        updated = store.update(task_id, Change(TaskState.CANCELLED))
        if updated is None:
            return jsonify({"error": "task already finished"}), 409
        run_cancel_hook(on_cancel, updated)
        return jsonify(updated.public_dict(privileged=access.is_privileged(request))), 202

    @bp.post("/<task_id>/retry")
    def retry(task_id: str) -> tuple[Response, int]:
        record = visible(task_id)
        if record is None or on_retry is None:
            return not_found()
        if record.state not in (TaskState.FAILED, TaskState.CANCELLED):
            return jsonify({"error": "only failed or cancelled tasks can be retried"}), 409
        updated = store.update(task_id, Change(TaskState.QUEUED, requeue=True))
        if updated is None:
            return jsonify({"error": "task changed meanwhile"}), 409
        if not run_retry_hook(store, on_retry, updated):
            return jsonify({"error": "the task could not be re-enqueued"}), 503
        return jsonify(updated.public_dict(privileged=access.is_privileged(request))), 202

    return bp
