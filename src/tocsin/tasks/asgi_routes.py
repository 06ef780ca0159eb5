"""The same endpoints for ASGI (Starlette, FastAPI): status JSON, SSE, cancel and retry.

    app.mount("/tasks", task_app(store, authorize=...))

On the Redis backend all SSE streams of a process share ONE pub/sub subscription
(``RedisEventHub``) and are fed from memory, so a thousand open streams cost one Redis
connection and no polling. On the SQL backend one ``PollingHub`` loop per process reads each
watched task's new events every ``poll_interval`` of the store and fans them out the same way
(a store without a hub makes each stream poll on its own). One timer sends the keep-alive
comments of all streams. Store reads run in the thread pool (the stores are synchronous).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tocsin.tasks.records import (
    Change,
    TaskEvent,
    TaskRecord,
    event_sort_key,
    parse_event_id,
    valid_task_id,
)
from tocsin.tasks.sse import (
    KEEPALIVE,
    RECONNECT_MS,
    SSE_HEADERS,
    SSE_MEDIA_TYPE,
    ActionHook,
    AuthorizeHook,
    PrivilegedHook,
    TaskAccess,
    etag,
    etag_matches,
    format_event,
    nothing_to_resume,
    opening_events,
    run_cancel_hook,
    run_retry_hook,
    status_body,
    status_headers,
)
from tocsin.tasks.store import EventHub, Subscription, TaskStore, TaskStoreError
from tocsin.tasks.task_states import TaskState

logger = logging.getLogger(__name__)


class TaskEndpoints:
    """The endpoint handlers, bound to one store, hub and access policy."""

    def __init__(
        self,
        store: TaskStore,
        *,
        authorize: AuthorizeHook | None = None,
        privileged: PrivilegedHook | None = None,
        on_cancel: ActionHook | None = None,
        on_retry: ActionHook | None = None,
        keepalive: float = 15.0,
        retry_after: int = 2,
        poll_interval: float = 1.0,
        hub: EventHub | None = None,
    ) -> None:
        self.store = store
        self.access = TaskAccess(authorize, privileged)
        self.on_cancel = on_cancel
        self.on_retry = on_retry
        self.keepalive = keepalive
        self.retry_after = retry_after
        self.poll_interval = poll_interval
        self.hub = hub if hub is not None else store.event_hub()
        self._streams: set[Subscription] = set()
        self._ticker: asyncio.Task[None] | None = None

    async def _visible(self, request: Request) -> TaskRecord | None:
        task_id = request.path_params["task_id"]
        if not valid_task_id(task_id):
            return None
        record = await run_in_threadpool(self.store.get, task_id)
        if record is None or not self.access.can_see(record, request):
            return None
        return record

    async def status(self, request: Request) -> Response:
        """``GET /<id>``: the task as JSON, with ``ETag`` and ``Retry-After`` while running."""
        record = await self._visible(request)
        if record is None:
            return _not_found()
        privileged = self.access.is_privileged(request)
        headers = status_headers(record, privileged, self.retry_after)
        if etag_matches(request.headers.get("if-none-match"), etag(record, privileged)):
            return Response(status_code=304, headers=headers)
        return Response(
            status_body(record, privileged), media_type="application/json", headers=headers
        )

    async def events(self, request: Request) -> Response:
        """``GET /<id>/events``: SSE, one event per change, ending after a terminal state."""
        record = await self._visible(request)
        if record is None:
            return _not_found()
        last_id = parse_event_id(
            request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        )
        subscription = self.hub.subscribe(record.id) if self.hub is not None else None
        try:
            if self.hub is not None:
                await self.hub.ready()
            opening = await run_in_threadpool(opening_events, self.store, record.id, last_id)
        except BaseException:
            if subscription is not None:
                subscription.close()
            raise
        if nothing_to_resume(record, last_id, opening):
            if subscription is not None:
                subscription.close()
            return Response(status_code=204, headers={"Cache-Control": "no-store"})
        privileged = self.access.is_privileged(request)
        body = self._stream(record.id, opening, subscription, privileged)
        return StreamingResponse(body, media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)

    async def _stream(
        self,
        task_id: str,
        opening: list[TaskEvent],
        subscription: Subscription | None,
        privileged: bool,
    ) -> AsyncIterator[bytes]:
        if subscription is not None:
            self._start_ticker(subscription)
        try:
            yield f"retry: {RECONNECT_MS}\n\n".encode()
            last: str | None = None
            batch: list[TaskEvent] | None = opening
            while True:
                for event in batch or []:
                    if last is not None and event_sort_key(event.id) <= event_sort_key(last):
                        continue
                    yield format_event(event, privileged)
                    last = event.id
                    if event.record.state.terminal:
                        return
                if subscription is not None:
                    batch = await self._next_pushed(task_id, last, subscription)
                else:
                    batch = await self._next_polled(task_id, last)
                if batch is None:
                    if await run_in_threadpool(self.store.get, task_id) is None:
                        return
                    yield KEEPALIVE
        except TaskStoreError as exc:
            # End the stream; EventSource reconnects with Last-Event-ID and resumes.
            logger.warning("task stream ended task_id=%s error=%s", task_id, exc)
        finally:
            if subscription is not None:
                self._streams.discard(subscription)
                subscription.close()

    def _start_ticker(self, subscription: Subscription) -> None:
        # One timer for all streams nudges each every `keepalive` seconds, instead of a
        # timeout around every wait (which costs a timer per event per stream).
        self._streams.add(subscription)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while self._streams:
            await asyncio.sleep(self.keepalive)
            for subscription in list(self._streams):
                subscription.nudge()

    async def _next_pushed(
        self, task_id: str, last: str | None, subscription: Subscription
    ) -> list[TaskEvent] | None:
        item = await subscription.get()
        if item is None:  # the feed reconnected: re-read what we may have missed
            return await run_in_threadpool(self.store.events_after, task_id, last)
        if isinstance(item, str):  # KEEPALIVE_TICK
            return None
        return [item]

    async def _next_polled(self, task_id: str, last: str | None) -> list[TaskEvent] | None:
        deadline = time.monotonic() + self.keepalive
        while time.monotonic() < deadline:
            await asyncio.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
            events = await run_in_threadpool(self.store.events_after, task_id, last)
            if events:
                return events
        return None

    async def cancel(self, request: Request) -> Response:
        """``POST /<id>/cancel``: mark the task cancelled, then run ``on_cancel``."""
        record = await self._visible(request)
        if record is None:
            return _not_found()
        if record.state.terminal:
            return JSONResponse({"error": f"task already {record.state}"}, status_code=409)
        updated = await run_in_threadpool(self.store.update, record.id, Change(TaskState.CANCELLED))
        if updated is None:
            return JSONResponse({"error": "task already finished"}, status_code=409)
        await run_in_threadpool(run_cancel_hook, self.on_cancel, updated)
        privileged = self.access.is_privileged(request)
        return JSONResponse(updated.public_dict(privileged=privileged), status_code=202)

    async def retry(self, request: Request) -> Response:
        """``POST /<id>/retry`` (only with ``on_retry``): re-open a failed task, re-enqueue."""
        record = await self._visible(request)
        if record is None or self.on_retry is None:
            return _not_found()
        if record.state not in (TaskState.FAILED, TaskState.CANCELLED):
            return JSONResponse(
                {"error": "only failed or cancelled tasks can be retried"}, status_code=409
            )
        updated = await run_in_threadpool(
            self.store.update, record.id, Change(TaskState.QUEUED, requeue=True)
        )
        if updated is None:
            return JSONResponse({"error": "task changed meanwhile"}, status_code=409)
        if not await run_in_threadpool(run_retry_hook, self.store, self.on_retry, updated):
            return JSONResponse({"error": "the task could not be re-enqueued"}, status_code=503)
        privileged = self.access.is_privileged(request)
        return JSONResponse(updated.public_dict(privileged=privileged), status_code=202)

    def routes(self) -> list[Route]:
        """Starlette routes, relative to where they are mounted."""
        return [
            Route("/{task_id}", self._guard(self.status), methods=["GET"]),
            Route("/{task_id}/events", self._guard(self.events), methods=["GET"]),
            Route("/{task_id}/cancel", self._guard(self.cancel), methods=["POST"]),
            Route("/{task_id}/retry", self._guard(self.retry), methods=["POST"]),
        ]

    def _guard(
        self, endpoint: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """``TaskStoreError`` -> 503 with ``Retry-After`` (not a 500 with a traceback)."""

        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            try:
                return await endpoint(request)
            except TaskStoreError as exc:
                logger.warning("task store unavailable error=%s", exc)
                return JSONResponse(
                    {"error": "task status is unavailable right now"},
                    status_code=503,
                    headers={"Retry-After": str(self.retry_after)},
                )

        return guarded

    async def aclose(self) -> None:
        """Stop the keep-alive timer and the shared event feed."""
        if self._ticker is not None:
            self._ticker.cancel()
        if self.hub is not None:
            await self.hub.aclose()


def _not_found() -> Response:
    return JSONResponse({"error": "no such task"}, status_code=404)


def task_routes(store: TaskStore, **options: Any) -> list[Route]:
    """Routes to include in your own Starlette/FastAPI app (see ``TaskEndpoints`` options)."""
    return TaskEndpoints(store, **options).routes()


def task_app(store: TaskStore, **options: Any) -> Starlette:
    """A Starlette app serving the endpoints; mount it, e.g. at ``/tasks``."""
    endpoints = TaskEndpoints(store, **options)
    app = Starlette(routes=endpoints.routes())
    app.state.task_endpoints = endpoints
    return app
