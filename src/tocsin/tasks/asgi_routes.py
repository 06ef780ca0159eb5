"""The same endpoints for ASGI (Starlette, FastAPI): status JSON, SSE, cancel and retry.

    app.mount("/tasks", task_app(store, authorize=...))

Requests become calls on ``tocsin.tasks.task_endpoint.TaskEndpoint``, run in the thread pool
(the stores are synchronous). What is ASGI's own is the SSE stream: on the Redis backend all
streams of a process share ONE pub/sub subscription (``RedisEventHub``) and are fed from
memory, so a thousand open streams cost one Redis connection and no polling. On the SQL
backend one ``PollingHub`` loop per process reads each watched task's new events every
``poll_interval`` of the store and fans them out the same way (a store without a hub makes
each stream poll on its own). One timer sends the keep-alive comments of all streams.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tocsin.tasks.access import ActionHook, AuthorizeHook, PrivilegedHook
from tocsin.tasks.records import TaskEvent
from tocsin.tasks.sse import KEEPALIVE, PREAMBLE, SSE_HEADERS, SSE_MEDIA_TYPE, EventCursor
from tocsin.tasks.store import EventHub, Subscription, TaskStore, TaskStoreError
from tocsin.tasks.task_endpoint import StreamStart, TaskAnswer, TaskEndpoint

logger = logging.getLogger(__name__)


def _to_starlette(answer: TaskAnswer) -> Response:
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


class TaskEndpoints:
    """The ASGI handlers, bound to one store, hub and access policy."""

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
        self.endpoint = TaskEndpoint(
            store,
            authorize=authorize,
            privileged=privileged,
            on_cancel=on_cancel,
            on_retry=on_retry,
            retry_after=retry_after,
        )
        self.store = store
        self.keepalive = keepalive
        self.poll_interval = poll_interval
        self.hub = hub if hub is not None else store.event_hub()
        self._streams: set[Subscription] = set()
        self._ticker: asyncio.Task[None] | None = None

    async def status(self, request: Request) -> Response:
        """``GET /<id>``: the task as JSON, with ``ETag`` and ``Retry-After`` while running."""
        task_id = request.path_params["task_id"]
        if_none_match = request.headers.get("if-none-match")
        answer = await run_in_threadpool(self.endpoint.status, task_id, request, if_none_match)
        return _to_starlette(answer)

    async def cancel(self, request: Request) -> Response:
        """``POST /<id>/cancel``: mark the task cancelled, then run ``on_cancel``."""
        task_id = request.path_params["task_id"]
        return _to_starlette(await run_in_threadpool(self.endpoint.cancel, task_id, request))

    async def retry(self, request: Request) -> Response:
        """``POST /<id>/retry`` (only with ``on_retry``): re-open a failed task, re-enqueue."""
        task_id = request.path_params["task_id"]
        return _to_starlette(await run_in_threadpool(self.endpoint.retry, task_id, request))

    async def events(self, request: Request) -> Response:
        """``GET /<id>/events``: SSE, one event per change, ending after a terminal state."""
        record = await run_in_threadpool(
            self.endpoint.find, request.path_params["task_id"], request
        )
        if isinstance(record, TaskAnswer):
            return _to_starlette(record)
        last_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        # Subscribe before reading the log, so nothing published in between is missed.
        subscription = self.hub.subscribe(record.id) if self.hub is not None else None
        try:
            if self.hub is not None:
                await self.hub.ready()
            start = await run_in_threadpool(self.endpoint.start_stream, record, request, last_id)
        except TaskStoreError as exc:
            start = self.endpoint.unavailable(exc)
        except BaseException:
            if subscription is not None:
                subscription.close()
            raise
        if isinstance(start, TaskAnswer):
            if subscription is not None:
                subscription.close()
            return _to_starlette(start)
        body = self._stream(start, subscription)
        return StreamingResponse(body, media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)

    async def _stream(
        self, start: StreamStart, subscription: Subscription | None
    ) -> AsyncIterator[bytes]:
        task_id = start.task_id
        cursor = EventCursor(start.privileged)
        if subscription is not None:
            self._start_ticker(subscription)
        try:
            yield PREAMBLE
            batch: list[TaskEvent] | None = start.opening
            while True:
                for message in cursor.messages(batch or ()):
                    yield message
                if cursor.ended:
                    return
                if subscription is not None:
                    batch = await self._next_pushed(task_id, cursor.last, subscription)
                else:
                    batch = await self._next_polled(task_id, cursor.last)
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

    def routes(self) -> list[Route]:
        """Starlette routes, relative to where they are mounted."""
        return [
            Route("/{task_id}", self.status, methods=["GET"]),
            Route("/{task_id}/events", self.events, methods=["GET"]),
            Route("/{task_id}/cancel", self.cancel, methods=["POST"]),
            Route("/{task_id}/retry", self.retry, methods=["POST"]),
        ]

    async def aclose(self) -> None:
        """Stop the keep-alive timer and the shared event feed."""
        if self._ticker is not None:
            self._ticker.cancel()
        if self.hub is not None:
            await self.hub.aclose()


def task_app(store: TaskStore, **options: Any) -> Starlette:
    """A Starlette app serving the endpoints; mount it, e.g. at ``/tasks``.

    ``options`` are :class:`TaskEndpoints`'; ``app.state.task_endpoints`` is the instance,
    whose ``aclose()`` stops the shared event feed.
    """
    endpoints = TaskEndpoints(store, **options)
    app = Starlette(routes=endpoints.routes())
    app.state.task_endpoints = endpoints
    return app
